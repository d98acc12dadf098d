import {
  checkAddresses,
  checkGateways,
  checkMemberships,
  checkOverlaps,
  checkSubnetKeys,
  Findings,
  readKeys,
} from './check-steps.js';

/**
 * The consistency check (`kontena-ipam-cleanup --check`): pure functions over one snapshot of
 * the store, every key under ETCD_PREFIX read at one revision. It verifies the invariants that
 * the store's transactions keep (libs/store/README.md); any violation is a bug or a hand edit.
 */

/** One key under the prefix, relative to it (`pools/blue`), with its raw value. */
export interface StoreEntry {
  key: string;
  value: string;
}

export const VIOLATION_KINDS = [
  /** a key under pools/, subnets/, addresses/, pool-nodes/ or nodes/ that the layout does not allow */
  'invalid-key',
  /** a value that is not JSON of the record's shape (subnet, gateway, type, …) */
  'invalid-value',
  /** two pools, or two subnet reservations of different pools, overlap */
  'overlapping-subnets',
  /** subnets/<net> names a pool that does not exist */
  'subnet-without-pool',
  /** subnets/<net> disagrees with its key or with the subnet of the pool it names */
  'subnet-mismatch',
  /** a pool whose subnets/<net> key is missing or names another pool */
  'pool-without-subnet',
  /** a pool whose gateway (its record's) has no address key of type gateway */
  'pool-without-gateway',
  /** addresses/<id>/<ip> of a pool that does not exist */
  'address-without-pool',
  /** an address outside its pool's subnet */
  'address-outside-pool',
  /** the network or broadcast address of its pool's subnet */
  'address-not-host',
  /** an address without a `node` */
  'address-without-owner',
  /** an address whose record is not `<ip of its key>/<pool's prefix length>` */
  'address-mismatch',
  /** pool-nodes/<id>/<node> of a pool that does not exist */
  'member-without-pool',
  /** a membership whose `refs` is not an integer of at least 1 */
  'member-bad-refs',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export type NoteKind =
  /** a pool without members: not a violation, the next cleanup pass deletes it */
  | 'memberless-pool'
  /** a key outside the layout's directories: not ours to judge */
  | 'unknown-key'
  /** the cluster's IPv6 supernet (`supernet6`), shown for the record */
  | 'supernet6'
  /** an address of a kind this version does not know (a newer node's): not judged */
  | 'unknown-kind';

export interface Finding<K extends string> {
  kind: K;
  /** The key, relative to the prefix, where to look (`etcdctl get <prefix>/<key>`). */
  key: string;
  pool?: string;
  message: string;
}
export type Violation = Finding<ViolationKind>;
export type CheckNote = Finding<NoteKind>;

export interface CheckCounts {
  pools: number;
  subnets: number;
  addresses: number;
  memberships: number;
  /** running plugins' registrations (nodes/) */
  registrations: number;
  /** the nodes' last cleanup passes (cleanup-passes/) */
  cleanupPasses: number;
  /** keys outside the layout's directories */
  other: number;
}

export interface CheckResult {
  counts: CheckCounts;
  violations: Violation[];
  notes: CheckNote[];
}

/** What `--check` prints: the result, where and at which revision it was read. */
export interface CheckReport extends CheckResult {
  /** true when the store was read and no violation was found */
  ok: boolean;
  mode: 'check';
  /** ETCD_PREFIX */
  prefix: string;
  /** the revision the snapshot was read at */
  revision?: string;
  /** why the store could not be read (ok false) */
  error?: string;
}

/**
 * Verifies every invariant over one snapshot, step by step (check-steps.ts); findings are sorted
 * by key, then kind.
 */
export function checkStore(entries: readonly StoreEntry[]): CheckResult {
  const found = new Findings();
  const layout = readKeys(entries, found);
  checkSubnetKeys(layout, found);
  checkOverlaps(layout, found);
  const addressTypes = checkAddresses(layout, found);
  checkGateways(layout, addressTypes, found);
  checkMemberships(layout, found);
  return {
    counts: {
      pools: layout.pools.size,
      subnets: layout.subnets.size,
      addresses: layout.addresses.length,
      memberships: layout.members.length,
      registrations: layout.registrations,
      cleanupPasses: layout.cleanupPasses,
      other: layout.other,
    },
    violations: found.violations.sort(byKey),
    notes: found.notes.sort(byKey),
  };
}

function byKey(x: Finding<string>, y: Finding<string>): number {
  return x.key < y.key ? -1 : x.key > y.key ? 1 : x.kind < y.kind ? -1 : x.kind > y.kind ? 1 : 0;
}

// ------------------------------------------------------------------------------- output

export function emptyCheckReport(prefix: string): CheckReport {
  return {
    ok: false,
    mode: 'check',
    prefix,
    counts: {
      pools: 0,
      subnets: 0,
      addresses: 0,
      memberships: 0,
      registrations: 0,
      cleanupPasses: 0,
      other: 0,
    },
    violations: [],
    notes: [],
  };
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** One line per violation, one per note, then the summary line. */
export function renderCheckText(report: CheckReport): string[] {
  const lines = [
    ...report.violations.map((v) => `violation ${v.kind}: ${v.message}`),
    ...report.notes.map((n) => `note ${n.kind}: ${n.message}`),
  ];
  const at = report.revision ? ` at revision ${report.revision}` : '';
  const head = `check of etcd prefix ${report.prefix}${at}`;
  if (report.error !== undefined) {
    lines.push(`${head}: FAILED: ${report.error}`);
    return lines;
  }
  const c = report.counts;
  const v = report.violations.length;
  // Registrations are liveness, not state: named only when there are any.
  const registrations =
    c.registrations > 0 ? `, ${plural(c.registrations, 'registration', 'registrations')}` : '';
  lines.push(
    `${head}: ${plural(c.pools, 'pool', 'pools')}, ${plural(c.subnets, 'subnet', 'subnets')}, ` +
      `${plural(c.addresses, 'address', 'addresses')}, ${plural(c.memberships, 'membership', 'memberships')}${registrations}; ` +
      `${plural(v, 'violation', 'violations')}, ${plural(report.notes.length, 'note', 'notes')} ` +
      `(${v === 0 ? 'consistent' : 'INCONSISTENT'})`,
  );
  return lines;
}

export function renderCheckJson(report: CheckReport): string {
  return JSON.stringify(report);
}
