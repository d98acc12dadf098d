import { isNodeId, isPoolId, LOCAL_POOL_PREFIX } from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import type { AddressRecord, PoolRecord } from '#app/store';

import type { V2Entry } from './v2-keyspace.js';

/**
 * What `import-v2` makes of a kontena-ipam 0.2 keyspace (docs/upgrading.md): pure, so the dry
 * run and the import plan alike. 0.2 wrote `pools/<id>`, `subnets/<net>`,
 * `addresses/<id>/<ip>` and `pool-nodes/<id>/<node>` with separate, non-atomic writes, so its
 * store can hold overlapping subnets, orphan subnet keys and addresses of deleted pools: each of
 * those is skipped with the reason, never guessed at.
 */

export interface ImportAddress {
  ip: string;
  record: AddressRecord;
}

export interface ImportPool {
  id: string;
  record: PoolRecord;
  subnet: Prefix;
  gatewayIp: string;
  /** The node that creates the pool in v3: its gateway's owner when a member, else the first. */
  creator: string;
  /** Every node with a 0.2 `pool-nodes` key, in key order: each gets a membership of 1. */
  members: string[];
  /** The pool's addresses except its gateway (createPool writes that one). */
  addresses: ImportAddress[];
}

/** A 0.2 key that is not imported, and why (one sentence, naming the key's pool or subnet). */
export interface Skipped {
  key: string;
  reason: string;
}

export interface ImportPlan {
  pools: ImportPool[];
  skipped: Skipped[];
}

interface V2Pool {
  entry: V2Entry;
  id: string;
  record: PoolRecord;
  subnet: Prefix;
  gateway: Addr;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseJson(value: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(value);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A 0.2 pool record as the v3 plugin would have created it, or why it cannot be one. */
function readPool(entry: V2Entry, id: string): V2Pool | string {
  if (!isPoolId(id) || id.startsWith(LOCAL_POOL_PREFIX)) {
    return `pool name ${JSON.stringify(id)} is not a valid network name here (1-128 letters, digits, "_", "." or "-", not starting with ${LOCAL_POOL_PREFIX})`;
  }
  const v = parseJson(entry.value);
  const subnet = Prefix.tryParse(str(v?.subnet) ?? '');
  if (!v || !subnet || subnet.family !== 4 || subnet.hasHostBits()) {
    return `pool ${id}: its value ${entry.value} has no IPv4 subnet without host bits`;
  }
  if (subnet.length < 8 || subnet.length > 30) {
    return `pool ${id}: subnet ${subnet.toString()} is not a /8 to /30, which this plugin serves`;
  }
  const gateway = subnet.firstHost()!;
  const gatewayText = `${gateway.toString()}/${subnet.length}`;
  if (v.gateway !== gatewayText) {
    return `pool ${id}: gateway ${String(v.gateway)} is not ${gatewayText}, the first host of its subnet`;
  }
  const iprangeText = str(v.iprange);
  const iprange = iprangeText === undefined ? undefined : Prefix.tryParse(iprangeText);
  if (iprangeText !== undefined && !iprange) {
    return `pool ${id}: iprange ${iprangeText} is not a CIDR prefix`;
  }
  if (iprange && (!subnet.containsPrefix(iprange) || iprange.hasHostBits())) {
    return `pool ${id}: iprange ${iprange.toString()} is not a network inside subnet ${subnet.toString()}`;
  }
  const record: PoolRecord = {
    subnet: subnet.toString(),
    ...(iprange ? { iprange: iprange.toString() } : {}),
    gateway: gatewayText,
  };
  return { entry, id, record, subnet, gateway };
}

/** The pools, oldest first; a pool overlapping an older one is skipped (0.2 could hold both). */
function acceptPools(entries: V2Entry[], skipped: Skipped[]): V2Pool[] {
  const candidates: V2Pool[] = [];
  for (const e of entries) {
    const [dir, id, ...rest] = e.key.split('/');
    if (dir !== 'pools' || id === undefined || rest.length > 0) {
      continue;
    }
    const pool = readPool(e, id);
    if (typeof pool === 'string') {
      skipped.push({ key: e.key, reason: pool });
    } else {
      candidates.push(pool);
    }
  }
  candidates.sort((a, b) => a.entry.createdIndex - b.entry.createdIndex);
  const accepted: V2Pool[] = [];
  for (const p of candidates) {
    const other = accepted.find((a) => a.subnet.overlaps(p.subnet));
    if (other) {
      skipped.push({
        key: p.entry.key,
        reason:
          `pool ${p.id}: subnet ${p.subnet.toString()} overlaps subnet ${other.subnet.toString()} ` +
          `of pool ${other.id}, created before it in 0.2; only ${other.id} is imported`,
      });
    } else {
      accepted.push(p);
    }
  }
  return accepted;
}

/** Orphan and mismatched `subnets/` keys: reported; v3 writes a pool's subnet key with it. */
function checkSubnetKeys(entries: V2Entry[], pools: V2Pool[], skipped: Skipped[]): void {
  for (const e of entries) {
    const [dir, net] = e.key.split('/');
    if (dir !== 'subnets' || net === undefined) {
      continue;
    }
    const address = str(parseJson(e.value)?.address);
    const owner = pools.find((p) => p.subnet.toString() === address);
    if (!owner) {
      skipped.push({
        key: e.key,
        reason:
          `subnet ${address ?? e.value}: no imported pool has it (an orphan of 0.2's ` +
          'non-atomic reservation, or the subnet of a skipped pool); not reserved in v3',
      });
    }
  }
}

/** The address of `e` in `pool`, or why it is skipped. */
function readAddress(e: V2Entry, pool: V2Pool, ip: string): ImportAddress | string {
  const addr = Addr.tryParse(ip);
  if (!addr || addr.toString() !== ip || !pool.subnet.isHost(addr)) {
    return `address ${ip} of pool ${pool.id} is not a host address of its subnet ${pool.subnet.toString()}`;
  }
  const v = parseJson(e.value);
  const node = str(v?.node);
  if (node === undefined || !isNodeId(node)) {
    return `address ${ip} of pool ${pool.id}: its value ${e.value} names no valid node`;
  }
  const isGateway = addr.equals(pool.gateway);
  return {
    ip,
    record: {
      address: `${ip}/${pool.subnet.length}`,
      node,
      type: isGateway ? 'gateway' : 'endpoint',
    },
  };
}

/** Plans the import of one 0.2 keyspace (keys relative to `/kontena/ipam`). */
export function planImport(entries: readonly V2Entry[]): ImportPlan {
  const sorted = [...entries];
  const skipped: Skipped[] = [];
  const accepted = acceptPools(sorted, skipped);
  checkSubnetKeys(sorted, accepted, skipped);
  const byId = new Map(accepted.map((p) => [p.id, p]));
  const members = new Map<string, string[]>();
  const addresses = new Map<string, ImportAddress[]>();
  for (const e of sorted) {
    const [dir, id, leaf, ...rest] = e.key.split('/');
    if ((dir !== 'addresses' && dir !== 'pool-nodes') || !id || !leaf || rest.length > 0) {
      continue;
    }
    const pool = byId.get(id);
    if (!pool) {
      const what = dir === 'addresses' ? `address ${leaf}` : `membership of node ${leaf}`;
      skipped.push({ key: e.key, reason: `${what}: pool ${id} is not imported` });
      continue;
    }
    if (dir === 'pool-nodes') {
      if (isNodeId(leaf)) {
        members.set(id, [...(members.get(id) ?? []), leaf]);
      } else {
        skipped.push({ key: e.key, reason: `pool ${id}: node id ${leaf} is not a valid NODE_ID` });
      }
      continue;
    }
    const address = readAddress(e, pool, leaf);
    if (typeof address === 'string') {
      skipped.push({ key: e.key, reason: address });
    } else {
      addresses.set(id, [...(addresses.get(id) ?? []), address]);
    }
  }
  const pools: ImportPool[] = [];
  for (const p of accepted) {
    const nodes = members.get(p.id) ?? [];
    const all = addresses.get(p.id) ?? [];
    if (nodes.length === 0) {
      skipped.push({
        key: p.entry.key,
        reason:
          `pool ${p.id} (${p.subnet.toString()}): no node is a member (no pool-nodes key), so ` +
          `no Docker network uses it; not imported, nor its ${all.length} address(es)`,
      });
      continue;
    }
    const gatewayIp = p.gateway.toString();
    const gatewayOwner = all.find((a) => a.ip === gatewayIp)?.record.node;
    pools.push({
      id: p.id,
      record: p.record,
      subnet: p.subnet,
      gatewayIp,
      creator:
        gatewayOwner !== undefined && nodes.includes(gatewayOwner) ? gatewayOwner : nodes[0]!,
      members: nodes,
      addresses: all.filter((a) => a.ip !== gatewayIp),
    });
  }
  return { pools, skipped };
}
