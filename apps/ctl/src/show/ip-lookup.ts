import { Prefix, type Addr } from '#app/net';
import type { PlanStore } from '#app/store';

import type { DockerNetworks } from '../../../cleanup/src/docker/docker-networks.js';
import { describeUse, dockerUses, type DockerUse } from '../docker-uses.js';

/** What `show --ip ADDR` found out about one address. */
export interface IpLookup {
  address: string;
  revision: string;
  /** the pool whose subnet holds it, if any */
  pool?: { id: string; subnet: string };
  /** allocated in etcd; free; the network or broadcast address of its pool; in no pool */
  state: 'allocated' | 'free' | 'not-a-host' | 'no-pool';
  node?: string;
  kind?: string;
  name?: string;
  /** whether this host's Docker (DOCKER_HOST) uses it, when Docker answered */
  docker: { where: string; answered: boolean; error?: string; uses: DockerUse[] };
}

/** The pool that holds `addr`, its record in etcd, and this host's Docker's use of it. */
export async function lookupIp(
  store: PlanStore,
  docker: DockerNetworks,
  addr: Addr,
): Promise<IpLookup> {
  const address = addr.toString();
  const { pools, revision } = await store.readPools(store.deadline());
  const lookup: IpLookup = {
    address,
    revision,
    state: 'no-pool',
    docker: { where: docker.where, answered: false, uses: [] },
  };
  const pool = pools.find((p) => Prefix.tryParse(p.record.subnet)?.contains(addr));
  if (pool) {
    lookup.pool = { id: pool.id, subnet: pool.record.subnet };
    const held = await store.readAddress(pool.id, address, store.deadline());
    if (held) {
      lookup.state = 'allocated';
      lookup.node = held.record.node;
      lookup.kind = held.record.type ?? 'endpoint';
      if (held.record.name) {
        lookup.name = held.record.name;
      }
    } else {
      lookup.state = Prefix.parse(pool.record.subnet).isHost(addr) ? 'free' : 'not-a-host';
    }
  }
  try {
    lookup.docker.uses = await dockerUses(docker, address);
    lookup.docker.answered = true;
  } catch (e) {
    lookup.docker.error = e instanceof Error ? e.message : String(e);
  }
  return lookup;
}

export function renderIpText(l: IpLookup): string[] {
  const where = l.pool ? `pool ${l.pool.id} (${l.pool.subnet})` : '';
  const lines = [
    l.state === 'allocated'
      ? `${l.address}: allocated in ${where} to node ${l.node ?? '?'} as ${l.kind ?? '?'}${l.name ? ` (${l.name})` : ''}`
      : l.state === 'free'
        ? `${l.address}: free in ${where}`
        : l.state === 'not-a-host'
          ? `${l.address}: the network or broadcast address of ${where}: never allocated`
          : `${l.address}: in no pool`,
  ];
  if (!l.docker.answered) {
    lines.push(`Docker at ${l.docker.where}: did not answer (${l.docker.error ?? 'no answer'})`);
  } else if (l.docker.uses.length === 0) {
    lines.push(`Docker at ${l.docker.where}: not used on this host`);
  } else {
    lines.push(
      ...l.docker.uses.map((u) => `Docker at ${l.docker.where}: used by ${describeUse(u)}`),
    );
  }
  lines.push(`(etcd revision ${l.revision})`);
  return lines;
}

export function renderIpJson(l: IpLookup): string {
  return JSON.stringify({
    address: l.address,
    revision: l.revision,
    state: l.state,
    pool: l.pool ?? null,
    node: l.node ?? null,
    kind: l.kind ?? null,
    name: l.name ?? null,
    docker: {
      where: l.docker.where,
      answered: l.docker.answered,
      error: l.docker.error ?? null,
      uses: l.docker.uses,
    },
  });
}
