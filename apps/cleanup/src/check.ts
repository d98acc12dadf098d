import { Addr, Prefix, intervalOf } from '#app/net';

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
  /** a key under pools/, subnets/, addresses/ or pool-nodes/ that the layout does not allow */
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
  | 'unknown-key';

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

interface PoolEntry {
  id: string;
  key: string;
  /** undefined when the value is invalid (reported once, not checked further) */
  subnet?: Prefix;
  gateway?: Prefix;
}

interface SubnetEntry {
  network: string;
  key: string;
  prefix?: Prefix;
  pool?: string;
}

interface Reservation {
  prefix: Prefix;
  pool: string;
  key: string;
  what: 'pool' | 'subnet key';
}

/** Verifies every invariant over one snapshot; findings are sorted by key, then kind. */
export function checkStore(entries: readonly StoreEntry[]): CheckResult {
  const violations: Violation[] = [];
  const notes: CheckNote[] = [];
  const violation = (kind: ViolationKind, key: string, message: string, pool?: string): void => {
    violations.push({ kind, key, ...(pool !== undefined ? { pool } : {}), message });
  };

  const pools = new Map<string, PoolEntry>();
  const subnets = new Map<string, SubnetEntry>();
  const addresses: { pool: string; ip: Addr; key: string; value: string }[] = [];
  const members: { pool: string; node: string; key: string; value: string }[] = [];
  let other = 0;

  // 1. Keys and values, each on its own.
  for (const { key, value } of entries) {
    const [dir, ...rest] = key.split('/');
    const segments = rest.length > 0 && rest.every((s) => s !== '') ? rest : undefined;
    switch (dir ?? '') {
      case 'pools': {
        if (segments?.length !== 1) {
          violation('invalid-key', key, `key ${key} is not pools/<pool id>`);
          break;
        }
        const id = segments[0] ?? '';
        pools.set(id, parsePool(id, key, value, violation));
        break;
      }
      case 'subnets': {
        const network = segments?.length === 1 ? Addr.tryParse(segments[0] ?? '') : undefined;
        if (network === undefined || network.toString() !== segments?.[0]) {
          violation('invalid-key', key, `key ${key} is not subnets/<network address>`);
          break;
        }
        subnets.set(key, parseSubnet(network, key, value, violation));
        break;
      }
      case 'addresses': {
        const ip = segments?.length === 2 ? Addr.tryParse(segments[1] ?? '') : undefined;
        if (ip === undefined || ip.toString() !== segments?.[1]) {
          violation('invalid-key', key, `key ${key} is not addresses/<pool id>/<IP address>`);
          break;
        }
        addresses.push({ pool: segments[0] ?? '', ip, key, value });
        break;
      }
      case 'pool-nodes': {
        if (segments?.length !== 2) {
          violation('invalid-key', key, `key ${key} is not pool-nodes/<pool id>/<NODE_ID>`);
          break;
        }
        members.push({ pool: segments[0] ?? '', node: segments[1] ?? '', key, value });
        break;
      }
      default:
        other++;
        notes.push({
          kind: 'unknown-key',
          key,
          message: `key ${key} is outside the key layout (pools/, subnets/, addresses/, pool-nodes/): not checked`,
        });
    }
  }

  // 2. Subnet keys and pools point at each other.
  for (const s of subnets.values()) {
    if (s.prefix === undefined || s.pool === undefined) {
      continue;
    }
    const pool = pools.get(s.pool);
    if (!pool) {
      violation(
        'subnet-without-pool',
        s.key,
        `subnet ${s.prefix.toString()} is reserved for pool ${s.pool}, which does not exist [${s.key}]`,
        s.pool,
      );
    } else if (pool.subnet && !pool.subnet.equals(s.prefix)) {
      violation(
        'subnet-mismatch',
        s.key,
        `subnet ${s.prefix.toString()} is reserved for pool ${s.pool}, whose subnet is ${pool.subnet.toString()} [${s.key}]`,
        s.pool,
      );
    }
  }
  for (const pool of pools.values()) {
    if (!pool.subnet) {
      continue;
    }
    const subnetKey = `subnets/${pool.subnet.network().toString()}`;
    const s = subnets.get(subnetKey);
    if (!s) {
      violation(
        'pool-without-subnet',
        pool.key,
        `pool ${pool.id} (${pool.subnet.toString()}) has no subnet reservation [${subnetKey} is missing]`,
        pool.id,
      );
    } else if (s.pool !== undefined && s.pool !== pool.id) {
      violation(
        'pool-without-subnet',
        pool.key,
        `pool ${pool.id} (${pool.subnet.toString()}) has no subnet reservation: ${subnetKey} reserves it for pool ${s.pool}`,
        pool.id,
      );
    }
  }

  // 3. No overlaps: between pools, and between the subnet keys of different pools (an orphan
  // subnet key still blocks its range for new pools).
  const reported = new Set<string>();
  for (const [x, y] of overlaps(
    [...pools.values()].flatMap((p): Reservation[] =>
      p.subnet ? [{ prefix: p.subnet, pool: p.id, key: p.key, what: 'pool' }] : [],
    ),
  )) {
    reported.add(pair(x.pool, y.pool));
    violation(
      'overlapping-subnets',
      x.key,
      `pools ${x.pool} (${x.prefix.toString()}) and ${y.pool} (${y.prefix.toString()}) overlap`,
      x.pool,
    );
  }
  for (const [x, y] of overlaps(
    [...subnets.values()].flatMap((s): Reservation[] =>
      s.prefix && s.pool !== undefined
        ? [{ prefix: s.prefix, pool: s.pool, key: s.key, what: 'subnet key' }]
        : [],
    ),
  )) {
    if (x.pool === y.pool || reported.has(pair(x.pool, y.pool))) {
      continue; // the same pool twice is a subnet-mismatch; a pool pair is reported above
    }
    reported.add(pair(x.pool, y.pool));
    violation(
      'overlapping-subnets',
      x.key,
      `subnet ${x.prefix.toString()} of pool ${x.pool} [${x.key}] and subnet ${y.prefix.toString()} of pool ${y.pool} [${y.key}] overlap`,
      x.pool,
    );
  }

  // 4. Addresses: in an existing pool, a host address of its subnet, with an owner.
  const addressKeys = new Map<string, { type: unknown }>();
  for (const a of addresses) {
    const ip = a.ip.toString();
    const record = parseObject(a.value);
    addressKeys.set(a.key, { type: record?.type });
    const pool = pools.get(a.pool);
    if (!pool) {
      violation(
        'address-without-pool',
        a.key,
        `address ${ip} belongs to pool ${a.pool}, which does not exist [${a.key}]`,
        a.pool,
      );
    }
    if (record === undefined) {
      violation(
        'invalid-value',
        a.key,
        `address ${ip}: ${invalidJson(a.value)} [${a.key}]`,
        a.pool,
      );
      continue;
    }
    const subnet = pool?.subnet;
    if (subnet && !subnet.contains(a.ip)) {
      violation(
        'address-outside-pool',
        a.key,
        `address ${ip} lies outside the subnet ${subnet.toString()} of its pool ${a.pool} [${a.key}]`,
        a.pool,
      );
    } else if (subnet && !subnet.isHost(a.ip)) {
      const which = a.ip.equals(subnet.network()) ? 'network' : 'broadcast';
      violation(
        'address-not-host',
        a.key,
        `address ${ip} is the ${which} address of pool ${a.pool} (${subnet.toString()}) [${a.key}]`,
        a.pool,
      );
    }
    if (typeof record.node !== 'string' || record.node === '') {
      violation(
        'address-without-owner',
        a.key,
        `address ${ip} of pool ${a.pool} has no owner node [${a.key}]`,
        a.pool,
      );
    }
    const recorded =
      typeof record.address === 'string' ? Prefix.tryParse(record.address) : undefined;
    if (
      !recorded ||
      !recorded.addr.equals(a.ip) ||
      (subnet !== undefined && recorded.length !== subnet.length)
    ) {
      violation(
        'address-mismatch',
        a.key,
        `address ${ip} of pool ${a.pool} is recorded as ${JSON.stringify(record.address ?? null)}` +
          `${subnet ? `, not ${ip}/${subnet.length}` : ''} [${a.key}]`,
        a.pool,
      );
    }
    if (record.type !== undefined && record.type !== 'gateway' && record.type !== 'endpoint') {
      violation(
        'invalid-value',
        a.key,
        `address ${ip} of pool ${a.pool} has type ${JSON.stringify(record.type)}, not gateway or endpoint [${a.key}]`,
        a.pool,
      );
    }
  }

  // 5. Every pool holds its gateway.
  for (const pool of pools.values()) {
    if (!pool.gateway) {
      continue;
    }
    const gw = pool.gateway.addr.toString();
    const key = `addresses/${pool.id}/${gw}`;
    const stored = addressKeys.get(key);
    if (stored === undefined) {
      violation(
        'pool-without-gateway',
        pool.key,
        `pool ${pool.id} has no address key for its gateway ${gw} [${key} is missing]`,
        pool.id,
      );
    } else if (stored.type !== 'gateway') {
      violation(
        'pool-without-gateway',
        pool.key,
        `pool ${pool.id}'s gateway ${gw} is stored with type ${JSON.stringify(stored.type ?? null)}, not gateway [${key}]`,
        pool.id,
      );
    }
  }

  // 6. Memberships: of an existing pool, with at least one reference.
  const withMembers = new Set<string>();
  for (const m of members) {
    withMembers.add(m.pool);
    if (!pools.has(m.pool)) {
      violation(
        'member-without-pool',
        m.key,
        `node ${m.node} is a member of pool ${m.pool}, which does not exist [${m.key}]`,
        m.pool,
      );
    }
    const record = parseObject(m.value);
    if (record === undefined) {
      violation(
        'invalid-value',
        m.key,
        `membership of node ${m.node} in pool ${m.pool}: ${invalidJson(m.value)} [${m.key}]`,
        m.pool,
      );
    } else if (!(Number.isInteger(record.refs) && Number(record.refs) >= 1)) {
      violation(
        'member-bad-refs',
        m.key,
        `membership of node ${m.node} in pool ${m.pool} has refs ${JSON.stringify(record.refs ?? null)}, not an integer of at least 1 [${m.key}]`,
        m.pool,
      );
    }
  }
  for (const pool of pools.values()) {
    if (!withMembers.has(pool.id)) {
      notes.push({
        kind: 'memberless-pool',
        key: pool.key,
        pool: pool.id,
        message:
          `pool ${pool.id}${pool.subnet ? ` (${pool.subnet.toString()})` : ''} has no member ` +
          'node: a cleanup pass deletes it',
      });
    }
  }

  return {
    counts: {
      pools: pools.size,
      subnets: subnets.size,
      addresses: addresses.length,
      memberships: members.length,
      other,
    },
    violations: violations.sort(byKey),
    notes: notes.sort(byKey),
  };
}

/** An unordered pair of pool ids, as a set key. */
function pair(a: string, b: string): string {
  return JSON.stringify([a, b].sort());
}

function byKey(x: Finding<string>, y: Finding<string>): number {
  return x.key < y.key ? -1 : x.key > y.key ? 1 : x.kind < y.kind ? -1 : x.kind > y.kind ? 1 : 0;
}

type Report = (kind: ViolationKind, key: string, message: string, pool?: string) => void;

function parsePool(id: string, key: string, value: string, violation: Report): PoolEntry {
  const entry: PoolEntry = { id, key };
  const record = parseObject(value);
  if (record === undefined) {
    violation('invalid-value', key, `pool ${id}: ${invalidJson(value)} [${key}]`, id);
    return entry;
  }
  const subnet = typeof record.subnet === 'string' ? Prefix.tryParse(record.subnet) : undefined;
  if (!subnet || subnet.hasHostBits()) {
    violation(
      'invalid-value',
      key,
      `pool ${id} has subnet ${JSON.stringify(record.subnet ?? null)}, not a network prefix [${key}]`,
      id,
    );
    return entry;
  }
  entry.subnet = subnet;
  const gateway = typeof record.gateway === 'string' ? Prefix.tryParse(record.gateway) : undefined;
  if (!gateway || gateway.length !== subnet.length || !subnet.isHost(gateway.addr)) {
    violation(
      'invalid-value',
      key,
      `pool ${id} (${subnet.toString()}) has gateway ${JSON.stringify(record.gateway ?? null)}, ` +
        `not a host address of its subnet with /${subnet.length} [${key}]`,
      id,
    );
  } else {
    entry.gateway = gateway;
  }
  if (record.iprange !== undefined) {
    const range = typeof record.iprange === 'string' ? Prefix.tryParse(record.iprange) : undefined;
    if (!range || !subnet.containsPrefix(range)) {
      violation(
        'invalid-value',
        key,
        `pool ${id} (${subnet.toString()}) has ip range ${JSON.stringify(record.iprange)}, not a prefix inside its subnet [${key}]`,
        id,
      );
    }
  }
  return entry;
}

function parseSubnet(network: Addr, key: string, value: string, violation: Report): SubnetEntry {
  const entry: SubnetEntry = { network: network.toString(), key };
  const record = parseObject(value);
  if (record === undefined) {
    violation('invalid-value', key, `subnet key: ${invalidJson(value)} [${key}]`);
    return entry;
  }
  const prefix = typeof record.address === 'string' ? Prefix.tryParse(record.address) : undefined;
  const pool = typeof record.pool === 'string' && record.pool !== '' ? record.pool : undefined;
  if (!prefix || prefix.hasHostBits() || pool === undefined) {
    violation(
      'invalid-value',
      key,
      `subnet key has address ${JSON.stringify(record.address ?? null)} and pool ` +
        `${JSON.stringify(record.pool ?? null)}, not a network prefix and a pool id [${key}]`,
    );
    return entry;
  }
  entry.pool = pool;
  if (!prefix.addr.equals(network)) {
    violation(
      'subnet-mismatch',
      key,
      `subnet key for ${network.toString()} holds the subnet ${prefix.toString()} of pool ${pool} [${key}]`,
      pool,
    );
    return entry;
  }
  entry.prefix = prefix;
  return entry;
}

/** A JSON object value, or undefined. */
function parseObject(value: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- a JSON object
        (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function invalidJson(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return `value ${JSON.stringify(shown)} is not a JSON object`;
}

/**
 * Every pair of overlapping reservations. Prefixes either nest or are disjoint, so after sorting
 * by start (then shorter first) a stack of the enclosing prefixes finds every overlap in
 * O(n log n + pairs), not O(n²): thousands of /24 pools stay cheap.
 */
function overlaps(list: Reservation[]): [Reservation, Reservation][] {
  const sorted = list
    .map((r) => ({ r, span: intervalOf(r.prefix) }))
    .sort(
      (x, y) =>
        x.r.prefix.family - y.r.prefix.family ||
        (x.span[0] < y.span[0] ? -1 : x.span[0] > y.span[0] ? 1 : 0) ||
        x.r.prefix.length - y.r.prefix.length,
    );
  const found: [Reservation, Reservation][] = [];
  const open: typeof sorted = [];
  for (const item of sorted) {
    while (open.length > 0) {
      const top = open[open.length - 1];
      if (top && top.r.prefix.family === item.r.prefix.family && top.span[1] >= item.span[0]) {
        break;
      }
      open.pop();
    }
    for (const outer of open) {
      found.push([outer.r, item.r]);
    }
    open.push(item);
  }
  return found;
}

// ------------------------------------------------------------------------------- output

export function emptyCheckReport(prefix: string): CheckReport {
  return {
    ok: false,
    mode: 'check',
    prefix,
    counts: { pools: 0, subnets: 0, addresses: 0, memberships: 0, other: 0 },
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
  lines.push(
    `${head}: ${plural(c.pools, 'pool', 'pools')}, ${plural(c.subnets, 'subnet', 'subnets')}, ` +
      `${plural(c.addresses, 'address', 'addresses')}, ${plural(c.memberships, 'membership', 'memberships')}; ` +
      `${plural(v, 'violation', 'violations')}, ${plural(report.notes.length, 'note', 'notes')} ` +
      `(${v === 0 ? 'consistent' : 'INCONSISTENT'})`,
  );
  return lines;
}

export function renderCheckJson(report: CheckReport): string {
  return JSON.stringify(report);
}
