import { poolIdOf } from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import type { AddressKind, AddressRecord, PoolRecord, StoredPool } from '#app/store';

import type { DockerNetwork } from '../../../cleanup/src/docker/docker-networks.js';
import { sameDriver } from '../../../cleanup/src/plan.js';

/**
 * What `repair` wants etcd to hold for this host, read from its Docker (pure): each pool a local
 * network of this plugin uses, with this node's references (one per network) and every address
 * Docker shows there (containers, aux addresses, a custom gateway). The writes are
 * create-if-absent (repairer.ts): what etcd holds already is kept.
 */

export interface RepairAddress {
  ip: string;
  record: AddressRecord;
  /** `container web-1`, `aux address`, `gateway` (for the report) */
  what: string;
}

export interface RepairPool {
  id: string;
  record: PoolRecord;
  subnet: Prefix;
  /** the local networks on the pool: this node's references */
  networks: string[];
  addresses: RepairAddress[];
}

export interface RepairPlan {
  pools: RepairPool[];
  /** one sentence each: a network (or an address of it) that cannot be registered again */
  problems: string[];
}

interface NetworkPool {
  id: string;
  family: 4 | 6;
  subnet: Prefix;
  ipRange?: Prefix;
}

const familyOf = (c: { subnet?: string }): number | undefined =>
  Prefix.tryParse(c.subnet ?? '')?.family;

/**
 * The pools of one network: its IPv4 one, and its IPv6 one when it has an IPv6 subnet (a
 * dual-stack network: `NAME:v6`), or why one has none that can be written.
 */
function poolsOfNetwork(n: DockerNetwork, pools: readonly StoredPool[]): (NetworkPool | string)[] {
  const out: (NetworkPool | string)[] = [poolOfNetwork(n, pools, 4)];
  if (n.configs.some((c) => familyOf(c) === 6)) {
    out.push(poolOfNetwork(n, pools, 6));
  }
  return out;
}

/** The pool of one network in one family, or why it has none that can be written. */
function poolOfNetwork(
  n: DockerNetwork,
  pools: readonly StoredPool[],
  family: 4 | 6,
): NetworkPool | string {
  const config = n.configs.find((c) => familyOf(c) === family);
  const subnet = Prefix.tryParse(config?.subnet ?? '');
  if (!config || !subnet) {
    return `network ${n.name} shows no IPv${family} subnet in docker network inspect`;
  }
  const id =
    n.poolOption === undefined
      ? pools.find((p) => p.record.subnet === subnet.toString())?.id
      : poolIdOf(n.poolOption, family === 6);
  if (id === undefined) {
    return (
      `network ${n.name} (${subnet.toString()}) was created without --ipam-opt network=NAME and ` +
      'no pool in etcd has its subnet: Docker does not show the private pool id it uses, so ' +
      'it cannot be registered again; remove and create the network once its containers stop'
    );
  }
  const ipRange = config.ipRange === undefined ? undefined : Prefix.tryParse(config.ipRange);
  return { id, family, subnet, ...(ipRange ? { ipRange } : {}) };
}

/** The addresses Docker shows on `n`, as the plugin records them for `node`. */
function addressesOf(
  n: DockerNetwork,
  p: NetworkPool,
  node: string,
  problems: string[],
): RepairAddress[] {
  const firstHost = p.subnet.firstHost()?.toString();
  const configs = n.configs.filter((c) => familyOf(c) === p.family);
  const wanted: { ip: string; what: string; type: AddressKind; name?: string; mac?: string }[] = [
    ...n.endpoints.flatMap((e) => {
      const ip = p.family === 4 ? e.ipv4 : e.ipv6;
      return ip
        ? [
            {
              ip,
              what: `container ${e.name}`,
              type: 'endpoint' as const,
              name: e.name,
              ...(e.mac ? { mac: e.mac } : {}),
            },
          ]
        : [];
    }),
    // The network's own: every host asks for them, none owns them (README, "Addresses").
    ...configs.flatMap((c) =>
      c.auxAddresses.map((ip) => ({ ip, what: 'aux address', type: 'aux' as const })),
    ),
    ...configs.flatMap((c) =>
      c.gateway && Addr.tryParse(c.gateway)?.toString() !== firstHost
        ? [{ ip: c.gateway, what: 'gateway', type: 'gateway' as const }]
        : [],
    ),
  ];
  const out: RepairAddress[] = [];
  for (const w of wanted) {
    const addr = Addr.tryParse(w.ip);
    if (!addr || !p.subnet.isHost(addr)) {
      problems.push(
        `network ${n.name}: ${w.what} ${w.ip} is not a host address of pool ${p.id}'s subnet ${p.subnet.toString()}`,
      );
      continue;
    }
    out.push({
      ip: addr.toString(),
      what: w.what,
      record: {
        address: `${addr.toString()}/${p.subnet.length}`,
        node,
        type: w.type,
        ...(w.name ? { name: w.name } : {}),
        // a repeated request of that container is then known (README, "Addresses")
        ...(w.mac ? { mac: w.mac } : {}),
      },
    });
  }
  return out;
}

/**
 * Plans a repair from this host's Docker networks of `drivers` (its other networks are not this
 * plugin's) and the pools etcd holds (to find a private pool by its subnet).
 */
export function planRepair(
  networks: readonly DockerNetwork[],
  drivers: readonly string[],
  pools: readonly StoredPool[],
  node: string,
): RepairPlan {
  const byId = new Map<string, RepairPool>();
  const problems: string[] = [];
  const ours = networks.filter((n) => drivers.some((d) => sameDriver(n.ipamDriver, d)));
  for (const n of [...ours].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const p of poolsOfNetwork(n, pools)) {
      if (typeof p === 'string') {
        problems.push(p);
      } else {
        addNetwork(byId, n, p, node, problems);
      }
    }
  }
  return { pools: [...byId.values()], problems };
}

/** Adds network `n` to the planned pool `p` (planned anew when it is the first network on it). */
function addNetwork(
  byId: Map<string, RepairPool>,
  n: DockerNetwork,
  p: NetworkPool,
  node: string,
  problems: string[],
): void {
  let pool = byId.get(p.id);
  if (!pool) {
    const gateway = `${p.subnet.firstHost()!.toString()}/${p.subnet.length}`;
    const record: PoolRecord = {
      subnet: p.subnet.toString(),
      ...(p.ipRange ? { iprange: p.ipRange.toString() } : {}),
      gateway,
    };
    pool = { id: p.id, record, subnet: p.subnet, networks: [], addresses: [] };
    byId.set(p.id, pool);
  } else if (!pool.subnet.equals(p.subnet)) {
    problems.push(
      `network ${n.name} names pool ${p.id} with subnet ${p.subnet.toString()}, another ` +
        `local network with ${pool.subnet.toString()}: only the first is registered`,
    );
    return;
  }
  pool.networks.push(n.name);
  const seen = new Set(pool.addresses.map((a) => a.ip));
  pool.addresses.push(...addressesOf(n, p, node, problems).filter((a) => !seen.has(a.ip)));
}
