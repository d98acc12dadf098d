import { Addr, intervalOf, Prefix } from '#app/net';
import {
  ADDRESS_KINDS,
  KeyLayout,
  parseSubnetKeyName,
  subnetKeyName,
  type LayoutDir,
} from '#app/store';

import type {
  CheckNote,
  Finding,
  NoteKind,
  StoreEntry,
  Violation,
  ViolationKind,
} from './check.js';
import {
  checkCleanupPass,
  checkRegistration,
  invalidJson,
  parseObject,
  parsePool,
  parseSubnet,
  type PoolEntry,
  type SubnetEntry,
} from './check-values.js';

/** The steps of the consistency check (checkStore), each a pass over one snapshot. */

interface AddressEntry {
  pool: string;
  ip: Addr;
  key: string;
  value: string;
}

interface MemberEntry {
  pool: string;
  node: string;
  key: string;
  value: string;
}

/** The snapshot's keys by kind, each value read on its own (step 1). */
export interface Layout {
  pools: Map<string, PoolEntry>;
  /** by key */
  subnets: Map<string, SubnetEntry>;
  addresses: AddressEntry[];
  members: MemberEntry[];
  /** running plugins' registrations (nodes/), each checked on its own */
  registrations: number;
  /** the nodes' last cleanup passes (cleanup-passes/), each checked on its own */
  cleanupPasses: number;
  /** keys outside the layout's directories */
  other: number;
}

interface Reservation {
  prefix: Prefix;
  pool: string;
  key: string;
  what: 'pool' | 'subnet key';
}

function finding<K extends string>(
  kind: K,
  key: string,
  message: string,
  pool: string | undefined,
): Finding<K> {
  return { kind, key, ...(pool !== undefined ? { pool } : {}), message };
}

/** What the steps found, in the order they found it. */
export class Findings {
  readonly violations: Violation[] = [];
  readonly notes: CheckNote[] = [];

  violation(kind: ViolationKind, key: string, message: string, pool?: string): void {
    this.violations.push(finding(kind, key, message, pool));
  }

  note(kind: NoteKind, key: string, message: string, pool?: string): void {
    this.notes.push(finding(kind, key, message, pool));
  }
}

/** How each directory's keys look, for the message about one that does not. */
const KEY_SHAPES: Record<LayoutDir, string> = {
  pools: 'pools/<pool id>',
  subnets: 'subnets/<network address> (IPv6: 32 hex digits)',
  addresses: 'addresses/<pool id>/<IP address>',
  'pool-nodes': 'pool-nodes/<pool id>/<NODE_ID>',
  nodes: 'nodes/<NODE_ID>/<instance>',
  'cleanup-passes': 'cleanup-passes/<NODE_ID>',
};

/** An address as the store writes it in a key: parseable and in its canonical form. */
function keyAddress(text: string): Addr | undefined {
  const addr = Addr.tryParse(text);
  return addr !== undefined && addr.toString() === text ? addr : undefined;
}

/** 1. Keys and values, each on its own. */
export function readKeys(entries: readonly StoreEntry[], found: Findings): Layout {
  const layout: Layout = {
    pools: new Map(),
    subnets: new Map(),
    addresses: [],
    members: [],
    registrations: 0,
    cleanupPasses: 0,
    other: 0,
  };
  const invalidKey = (key: string, dir: LayoutDir): void => {
    found.violation('invalid-key', key, `key ${key} is not ${KEY_SHAPES[dir]}`);
  };
  for (const { key, value } of entries) {
    const parsed = KeyLayout.parseRelative(key);
    switch (parsed.kind) {
      case 'pool':
        layout.pools.set(parsed.id, parsePool(parsed.id, key, value, found));
        break;
      case 'subnet': {
        const network = parseSubnetKeyName(parsed.network);
        if (network === undefined) {
          invalidKey(key, 'subnets');
        } else {
          layout.subnets.set(key, parseSubnet(network, key, value, found));
        }
        break;
      }
      case 'address': {
        const ip = keyAddress(parsed.ip);
        if (ip === undefined) {
          invalidKey(key, 'addresses');
        } else {
          layout.addresses.push({ pool: parsed.pool, ip, key, value });
        }
        break;
      }
      case 'member':
        layout.members.push({ pool: parsed.pool, node: parsed.node, key, value });
        break;
      case 'registration':
        layout.registrations++;
        checkRegistration(parsed.node, parsed.instance, key, value, found);
        break;
      case 'supernet6':
        checkSupernet6(key, value, found);
        break;
      case 'cleanup-pass':
        layout.cleanupPasses++;
        checkCleanupPass(parsed.node, key, value, found);
        break;
      case 'malformed':
        invalidKey(key, parsed.dir);
        break;
      case 'other':
        layout.other++;
        found.note(
          'unknown-key',
          key,
          `key ${key} is outside the key layout (pools/, subnets/, addresses/, pool-nodes/, nodes/, cleanup-passes/): not checked`,
        );
        break;
    }
  }
  return layout;
}

/** The cluster's IPv6 supernet: an IPv6 network, noted so that the report shows it. */
function checkSupernet6(key: string, value: string, found: Findings): void {
  const record = parseObject(value);
  const text = typeof record?.supernet === 'string' ? record.supernet : undefined;
  const prefix = text === undefined ? undefined : Prefix.tryParse(text);
  if (prefix?.family !== 6 || prefix.hasHostBits()) {
    found.violation(
      'invalid-value',
      key,
      `the cluster's IPv6 supernet is ${JSON.stringify(record?.supernet ?? value)}, not an IPv6 network such as fd12:3456:789a::/48 [${key}]`,
    );
    return;
  }
  found.note(
    'supernet6',
    key,
    `the cluster's IPv6 supernet is ${prefix.toString()} (dynamic IPv6 pools of nodes without KONTENA_IPAM_SUPERNET6)`,
  );
}

/** 2. Subnet keys and pools point at each other. */
export function checkSubnetKeys({ pools, subnets }: Layout, found: Findings): void {
  for (const s of subnets.values()) {
    if (s.prefix === undefined || s.pool === undefined) {
      continue;
    }
    const pool = pools.get(s.pool);
    if (!pool) {
      found.violation(
        'subnet-without-pool',
        s.key,
        `subnet ${s.prefix.toString()} is reserved for pool ${s.pool}, which does not exist [${s.key}]`,
        s.pool,
      );
    } else if (pool.subnet && !pool.subnet.equals(s.prefix)) {
      found.violation(
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
    const subnetKey = `subnets/${subnetKeyName(pool.subnet)}`;
    const s = subnets.get(subnetKey);
    if (!s) {
      found.violation(
        'pool-without-subnet',
        pool.key,
        `pool ${pool.id} (${pool.subnet.toString()}) has no subnet reservation [${subnetKey} is missing]`,
        pool.id,
      );
    } else if (s.pool !== undefined && s.pool !== pool.id) {
      found.violation(
        'pool-without-subnet',
        pool.key,
        `pool ${pool.id} (${pool.subnet.toString()}) has no subnet reservation: ${subnetKey} reserves it for pool ${s.pool}`,
        pool.id,
      );
    }
  }
}

/**
 * 3. No overlaps: between pools, and between the subnet keys of different pools (an orphan
 * subnet key still blocks its range for new pools).
 */
export function checkOverlaps({ pools, subnets }: Layout, found: Findings): void {
  const reported = new Set<string>();
  for (const [x, y] of overlaps(
    [...pools.values()].flatMap((p): Reservation[] =>
      p.subnet ? [{ prefix: p.subnet, pool: p.id, key: p.key, what: 'pool' }] : [],
    ),
  )) {
    reported.add(pair(x.pool, y.pool));
    found.violation(
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
    found.violation(
      'overlapping-subnets',
      x.key,
      `subnet ${x.prefix.toString()} of pool ${x.pool} [${x.key}] and subnet ${y.prefix.toString()} of pool ${y.pool} [${y.key}] overlap`,
      x.pool,
    );
  }
}

/**
 * 4. Addresses: in an existing pool, a host address of its subnet, with an owner. Returns the
 * type each address key holds, for the gateways' step.
 */
export function checkAddresses(
  { pools, addresses }: Layout,
  found: Findings,
): Map<string, unknown> {
  const types = new Map<string, unknown>();
  for (const a of addresses) {
    const record = parseObject(a.value);
    types.set(a.key, record?.type);
    const pool = pools.get(a.pool);
    if (!pool) {
      found.violation(
        'address-without-pool',
        a.key,
        `address ${a.ip.toString()} belongs to pool ${a.pool}, which does not exist [${a.key}]`,
        a.pool,
      );
    }
    if (record === undefined) {
      found.violation(
        'invalid-value',
        a.key,
        `address ${a.ip.toString()}: ${invalidJson(a.value)} [${a.key}]`,
        a.pool,
      );
    } else {
      checkAddressRecord(a, record, pool?.subnet, found);
    }
  }
  return types;
}

/** One address's record against its key and its pool's subnet (when the pool has a valid one). */
function checkAddressRecord(
  a: AddressEntry,
  record: Record<string, unknown>,
  subnet: Prefix | undefined,
  found: Findings,
): void {
  const ip = a.ip.toString();
  if (subnet && !subnet.contains(a.ip)) {
    found.violation(
      'address-outside-pool',
      a.key,
      `address ${ip} lies outside the subnet ${subnet.toString()} of its pool ${a.pool} [${a.key}]`,
      a.pool,
    );
  } else if (subnet && !subnet.isHost(a.ip)) {
    const which = !a.ip.equals(subnet.network())
      ? 'broadcast'
      : a.ip.family === 6
        ? 'subnet-router anycast'
        : 'network';
    found.violation(
      'address-not-host',
      a.key,
      `address ${ip} is the ${which} address of pool ${a.pool} (${subnet.toString()}) [${a.key}]`,
      a.pool,
    );
  }
  if (typeof record.node !== 'string' || record.node === '') {
    found.violation(
      'address-without-owner',
      a.key,
      `address ${ip} of pool ${a.pool} has no owner node [${a.key}]`,
      a.pool,
    );
  }
  const recorded = typeof record.address === 'string' ? Prefix.tryParse(record.address) : undefined;
  if (
    !recorded ||
    !recorded.addr.equals(a.ip) ||
    (subnet !== undefined && recorded.length !== subnet.length)
  ) {
    found.violation(
      'address-mismatch',
      a.key,
      `address ${ip} of pool ${a.pool} is recorded as ${JSON.stringify(record.address ?? null)}` +
        `${subnet ? `, not ${ip}/${subnet.length}` : ''} [${a.key}]`,
      a.pool,
    );
  }
  checkAddressKind(a, record, found);
}

/**
 * The record's kind (`type`): one this version knows, or a string of a later version's, which is
 * a note (a newer node wrote it; the cleanup skips it) rather than a violation. A `mac` is a
 * string.
 */
function checkAddressKind(a: AddressEntry, record: Record<string, unknown>, found: Findings): void {
  const ip = a.ip.toString();
  const { type, mac } = record;
  if (type !== undefined && typeof type !== 'string') {
    found.violation(
      'invalid-value',
      a.key,
      `address ${ip} of pool ${a.pool} has type ${JSON.stringify(type)}, not a string such as ${ADDRESS_KINDS.join(', ')} [${a.key}]`,
      a.pool,
    );
  } else if (type !== undefined && !(ADDRESS_KINDS as readonly string[]).includes(type)) {
    found.note(
      'unknown-kind',
      a.key,
      `address ${ip} of pool ${a.pool} has kind ${JSON.stringify(type)}, which this version does not know (written by a newer node?): not checked, never freed [${a.key}]`,
      a.pool,
    );
  }
  if (mac !== undefined && typeof mac !== 'string') {
    found.violation(
      'invalid-value',
      a.key,
      `address ${ip} of pool ${a.pool} has mac ${JSON.stringify(mac)}, not a string [${a.key}]`,
      a.pool,
    );
  }
}

/** 5. Every pool holds its gateway: an address key of type gateway. */
export function checkGateways(
  { pools }: Layout,
  addressTypes: ReadonlyMap<string, unknown>,
  found: Findings,
): void {
  for (const pool of pools.values()) {
    if (!pool.gateway) {
      continue;
    }
    const gw = pool.gateway.addr.toString();
    const key = `addresses/${pool.id}/${gw}`;
    if (!addressTypes.has(key)) {
      found.violation(
        'pool-without-gateway',
        pool.key,
        `pool ${pool.id} has no address key for its gateway ${gw} [${key} is missing]`,
        pool.id,
      );
    } else if (addressTypes.get(key) !== 'gateway') {
      found.violation(
        'pool-without-gateway',
        pool.key,
        `pool ${pool.id}'s gateway ${gw} is stored with type ${JSON.stringify(addressTypes.get(key) ?? null)}, not gateway [${key}]`,
        pool.id,
      );
    }
  }
}

/**
 * 6. Memberships: of an existing pool, with at least one reference. A pool without members is
 * a note: the next cleanup pass deletes it.
 */
export function checkMemberships({ pools, members }: Layout, found: Findings): void {
  const withMembers = new Set<string>();
  for (const m of members) {
    withMembers.add(m.pool);
    if (!pools.has(m.pool)) {
      found.violation(
        'member-without-pool',
        m.key,
        `node ${m.node} is a member of pool ${m.pool}, which does not exist [${m.key}]`,
        m.pool,
      );
    }
    const record = parseObject(m.value);
    if (record === undefined) {
      found.violation(
        'invalid-value',
        m.key,
        `membership of node ${m.node} in pool ${m.pool}: ${invalidJson(m.value)} [${m.key}]`,
        m.pool,
      );
    } else if (!(Number.isInteger(record.refs) && Number(record.refs) >= 1)) {
      found.violation(
        'member-bad-refs',
        m.key,
        `membership of node ${m.node} in pool ${m.pool} has refs ${JSON.stringify(record.refs ?? null)}, not an integer of at least 1 [${m.key}]`,
        m.pool,
      );
    }
  }
  for (const pool of pools.values()) {
    if (!withMembers.has(pool.id)) {
      found.note(
        'memberless-pool',
        pool.key,
        `pool ${pool.id}${pool.subnet ? ` (${pool.subnet.toString()})` : ''} has no member ` +
          'node: a cleanup pass deletes it',
        pool.id,
      );
    }
  }
}

/** An unordered pair of pool ids, as a set key. */
function pair(a: string, b: string): string {
  return JSON.stringify([a, b].sort());
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
