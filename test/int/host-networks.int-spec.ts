import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { HostNetworkConflict } from '#app/ipam';
import { uniquePrefix } from '../support/prefix.js';
import { RawEtcd, startNode, type IpamNode, type NodeOptions } from './harness.js';

const endpoints = inject('etcdEndpoints');

type Env = Record<string, string>;

/**
 * dockerd checks a pool it asked for without `--subnet`, for a local network, against this host's
 * on-link routes and resolv.conf nameservers, and asks again while holding one that overlaps
 * (issue #15, item 6: a shared pool that overlaps came back every time, and took 6,556 references
 * in 20 s). Node "c" here is a host with such a route or nameserver.
 */
describe("pools and this host's routes and nameservers", () => {
  let prefix: string;
  let a: IpamNode;
  let raw: RawEtcd;
  const others: IpamNode[] = [];

  beforeEach(async () => {
    prefix = uniquePrefix('host-networks');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    // Node a's shared pool `blue` takes the supernet's first subnet.
    const blue = await a.pools.requestPool({ options: { network: 'blue' }, v6: false });
    if (blue.pool !== '10.80.0.0/24') {
      throw new Error(`blue got ${blue.pool}, not the supernet's first subnet`);
    }
  });

  afterEach(async () => {
    for (const node of others.splice(0)) {
      await node.close();
    }
    await a.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  async function hostC(opts: Partial<NodeOptions>): Promise<IpamNode> {
    const node = await startNode({ nodeId: 'node-c', endpoints, prefix, ...opts });
    others.push(node);
    return node;
  }

  const members = async (pool: string): Promise<string[]> =>
    (await raw.keys(`pool-nodes/${pool}/`)).map((k) => k.split('/').at(-1)!);

  it.each([
    {
      name: 'an on-link route',
      host: { routes: ['10.80.0.0/16'] },
      says: "pool blue (10.80.0.0/24) overlaps this host's on-link route 10.80.0.0/16, which dockerd refuses for a network created without --subnet",
    },
    {
      name: 'a nameserver',
      host: { nameservers: ['10.80.0.53'] },
      says: "pool blue (10.80.0.0/24) overlaps the nameserver 10.80.0.53 in this host's resolv.conf, which dockerd refuses for a network created without --subnet",
    },
  ])(
    'should refuse a shared pool that overlaps $name in the local address space, before joining',
    async ({ host, says }) => {
      const c = await hostC(host);
      const before = await raw.dump();
      const err = await c.pools
        .requestPool({ addressSpace: 'kontenalocal', options: { network: 'blue' }, v6: false })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostNetworkConflict);
      expect((err as Error).message).toBe(says);
      expect(await raw.dump()).toEqual(before);
      expect(await members('blue')).toEqual(['node-a']);
    },
  );

  it.each<{ name: string; req: { addressSpace?: string; pool?: string }; env: Env }>([
    {
      name: 'in the global address space (dockerd does not check)',
      req: { addressSpace: 'kontenaglobal' },
      env: {},
    },
    {
      name: 'without an address space (not from dockerd)',
      req: {},
      env: {},
    },
    {
      name: 'with its Pool given (dockerd does not check a chosen subnet)',
      req: { addressSpace: 'kontenalocal', pool: '10.80.0.0/24' },
      env: {},
    },
    {
      name: 'with KONTENA_IPAM_AVOID_HOST_ROUTES=false',
      req: { addressSpace: 'kontenalocal' },
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'false' },
    },
  ])('should join an overlapping shared pool $name', async ({ req, env }) => {
    const c = await hostC({ routes: ['10.80.0.0/24'], nameservers: ['10.80.0.53'], env });
    const reply = await c.pools.requestPool({ ...req, options: { network: 'blue' }, v6: false });
    expect(reply.pool).toBe('10.80.0.0/24');
    expect(await members('blue')).toEqual(['node-a', 'node-c']);
  });

  it('should join a shared pool that overlaps nothing of this host', async () => {
    const c = await hostC({ routes: ['10.80.1.0/24'], nameservers: ['10.80.1.53'] });
    const reply = await c.pools.requestPool({
      addressSpace: 'kontenalocal',
      options: { network: 'blue' },
      v6: false,
    });
    expect(reply.pool).toBe('10.80.0.0/24');
  });

  it.each<{ name: string; env: Env; pool: string }>([
    { name: 'skip a nameserver', env: {}, pool: '10.80.2.0/24' },
    {
      name: 'not skip it with KONTENA_IPAM_AVOID_HOST_ROUTES=false',
      env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'false' },
      pool: '10.80.1.0/24',
    },
  ])('should $name when it carves a new dynamic subnet', async ({ env, pool }) => {
    const c = await hostC({ nameservers: ['10.80.1.53', '8.8.8.8'], env });
    const reply = await c.pools.requestPool({
      addressSpace: 'kontenalocal',
      options: {},
      v6: false,
    });
    expect(reply.pool).toBe(pool);
  });
});
