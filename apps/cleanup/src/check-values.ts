import { isNodeId } from '#app/ipam';
import { Prefix, type Addr } from '#app/net';

import type { Findings } from './check-steps.js';

/** The values of the check's snapshot, read on their own: each bad one is reported once. */

export interface PoolEntry {
  id: string;
  key: string;
  /** undefined when the value is invalid (reported once, not checked further) */
  subnet?: Prefix;
  gateway?: Prefix;
}

export interface SubnetEntry {
  network: string;
  key: string;
  prefix?: Prefix;
  pool?: string;
}

/**
 * A pool's record: its subnet a network prefix, its gateway a host address of it with the same
 * length, its ip range (if any) a prefix inside it.
 */
export function parsePool(id: string, key: string, value: string, found: Findings): PoolEntry {
  const entry: PoolEntry = { id, key };
  const record = parseObject(value);
  if (record === undefined) {
    found.violation('invalid-value', key, `pool ${id}: ${invalidJson(value)} [${key}]`, id);
    return entry;
  }
  const subnet = typeof record.subnet === 'string' ? Prefix.tryParse(record.subnet) : undefined;
  if (!subnet || subnet.hasHostBits()) {
    found.violation(
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
    found.violation(
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
      found.violation(
        'invalid-value',
        key,
        `pool ${id} (${subnet.toString()}) has ip range ${JSON.stringify(record.iprange)}, not a prefix inside its subnet [${key}]`,
        id,
      );
    }
  }
  checkExclusions(id, key, subnet, record.exclude, found);
  return entry;
}

/** `exclude`, when present: a list of prefixes inside the pool's subnet. */
function checkExclusions(
  id: string,
  key: string,
  subnet: Prefix,
  exclude: unknown,
  found: Findings,
): void {
  if (exclude === undefined) {
    return;
  }
  const valid =
    Array.isArray(exclude) &&
    exclude.every((e) => {
      const prefix = typeof e === 'string' ? Prefix.tryParse(e) : undefined;
      return prefix !== undefined && subnet.containsPrefix(prefix);
    });
  if (!valid) {
    found.violation(
      'invalid-value',
      key,
      `pool ${id} (${subnet.toString()}) has exclude ${JSON.stringify(exclude)}, not a list of prefixes inside its subnet [${key}]`,
      id,
    );
  }
}

/** A subnet key's record: the network prefix at the key's address, and the pool it reserves. */
export function parseSubnet(
  network: Addr,
  key: string,
  value: string,
  found: Findings,
): SubnetEntry {
  const entry: SubnetEntry = { network: network.toString(), key };
  const record = parseObject(value);
  if (record === undefined) {
    found.violation('invalid-value', key, `subnet key: ${invalidJson(value)} [${key}]`);
    return entry;
  }
  const prefix = typeof record.address === 'string' ? Prefix.tryParse(record.address) : undefined;
  const pool = typeof record.pool === 'string' && record.pool !== '' ? record.pool : undefined;
  if (!prefix || prefix.hasHostBits() || pool === undefined) {
    found.violation(
      'invalid-value',
      key,
      `subnet key has address ${JSON.stringify(record.address ?? null)} and pool ` +
        `${JSON.stringify(record.pool ?? null)}, not a network prefix and a pool id [${key}]`,
    );
    return entry;
  }
  entry.pool = pool;
  if (!prefix.addr.equals(network)) {
    found.violation(
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

/**
 * A running plugin's registration (`nodes/<NODE_ID>/<instance>`, on a lease): a NODE_ID as the
 * key's node, and `host`, `pid`, `started`, `version` and the lease's `ttl` of their types.
 * Registrations are liveness only: nothing else refers to them.
 */
export function checkRegistration(
  node: string,
  instance: string,
  key: string,
  value: string,
  found: Findings,
): void {
  const what = `registration ${instance} of node ${node}`;
  if (!isNodeId(node)) {
    found.violation(
      'invalid-key',
      key,
      `key ${key} is not nodes/<NODE_ID>/<instance>: ${JSON.stringify(node)} is not a NODE_ID`,
    );
    return;
  }
  const record = parseObject(value);
  if (record === undefined) {
    found.violation('invalid-value', key, `${what}: ${invalidJson(value)} [${key}]`);
    return;
  }
  const wrong = [
    typeof record.host === 'string' && record.host !== '' ? undefined : 'host (a host name)',
    Number.isInteger(record.pid) && Number(record.pid) > 0 ? undefined : 'pid (a process id)',
    typeof record.started === 'string' && !Number.isNaN(Date.parse(record.started))
      ? undefined
      : 'started (a time)',
    typeof record.version === 'string' && record.version !== '' ? undefined : 'version',
    Number.isInteger(record.ttl) && Number(record.ttl) > 0 ? undefined : 'ttl (seconds)',
  ].filter((w) => w !== undefined);
  if (wrong.length > 0) {
    found.violation('invalid-value', key, `${what} lacks a valid ${wrong.join(', ')} [${key}]`);
  }
}

/**
 * A node's last cleanup pass (`cleanup-passes/<NODE_ID>`): a NODE_ID as the key's node, and a
 * `time`. Like registrations, nothing else refers to it.
 */
export function checkCleanupPass(node: string, key: string, value: string, found: Findings): void {
  if (!isNodeId(node)) {
    found.violation(
      'invalid-key',
      key,
      `key ${key} is not cleanup-passes/<NODE_ID>: ${JSON.stringify(node)} is not a NODE_ID`,
    );
    return;
  }
  const record = parseObject(value);
  if (
    record === undefined ||
    typeof record.time !== 'string' ||
    Number.isNaN(Date.parse(record.time))
  ) {
    found.violation(
      'invalid-value',
      key,
      `last cleanup pass of node ${node}: ${record === undefined ? invalidJson(value) : 'lacks a valid time'} [${key}]`,
    );
  }
}

/** A JSON object value, or undefined. */
export function parseObject(value: string): Record<string, unknown> | undefined {
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

export function invalidJson(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  return `value ${JSON.stringify(shown)} is not a JSON object`;
}
