import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  AddressInUse,
  AddressOutOfRange,
  InvalidRequest,
  PoolExhausted,
  PoolMismatch,
  PoolNotFound,
  SubnetConflict,
} from '#app/ipam';
import {
  containerOptions,
  type DockerPoolRequest as PoolRequest,
} from '../support/docker-calls.js';
import { RawEtcd, startNode, startTwoNodes, type IpamNode } from './harness.js';
import { uniquePrefix } from '../support/prefix.js';

const endpoints = inject('etcdEndpoints');
const GW = 'com.docker.network.gateway';

const shared = (network: string, extra: Partial<PoolRequest> = {}): PoolRequest => ({
  options: { network },
  v6: false,
  ...extra,
});

describe('allocators on a real etcd', () => {
  let prefix: string;
  let a: IpamNode;
  let b: IpamNode;
  let raw: RawEtcd;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ prefix, raw, a, b, close } = await startTwoNodes('alloc', endpoints));
  });

  afterEach(() => close());

  describe('RequestPool', () => {
    it('should write pool, subnet, gateway and membership in one commit', async () => {
      const before = await raw.revision();
      const reply = await a.pools.requestPool(
        shared('kontena', { pool: '10.81.0.0/16', subPool: '10.81.128.0/17' }),
      );
      expect(reply).toEqual({
        poolId: 'kontena',
        pool: '10.81.0.0/16',
        data: { [GW]: '10.81.0.1/16' },
      });
      const dump = await raw.dump();
      expect(dump).toEqual({
        'pools/kontena': expect.objectContaining({
          subnet: '10.81.0.0/16',
          iprange: '10.81.128.0/17',
          gateway: '10.81.0.1/16',
        }),
        'subnets/10.81.0.0': expect.objectContaining({ address: '10.81.0.0/16', pool: 'kontena' }),
        'addresses/kontena/10.81.0.1': expect.objectContaining({
          address: '10.81.0.1/16',
          node: 'node-a',
          type: 'gateway',
        }),
        'pool-nodes/kontena/node-a': expect.objectContaining({ refs: 1 }),
      });
      // All four keys share one mod revision: a single transaction wrote them.
      const kvs = await raw.client.getAll().prefix(`${prefix}/`).exec();
      const revisions = new Set(kvs.kvs.map((kv) => kv.mod_revision));
      expect(revisions.size).toBe(1);
      expect(BigInt([...revisions][0]!)).toBeGreaterThan(BigInt(before));
    });

    it('should carve dynamic pools in ascending order from the supernet', async () => {
      const first = await a.pools.requestPool({ options: {}, v6: false });
      const second = await b.pools.requestPool({ options: {}, v6: false });
      expect(first.pool).toBe('10.80.0.0/24');
      expect(first.poolId).toMatch(/^local-[0-9a-f-]{36}$/);
      expect(first.data[GW]).toBe('10.80.0.1/24');
      expect(second.pool).toBe('10.80.1.0/24');
      expect(second.poolId).not.toBe(first.poolId);
    });

    it('should skip subnets overlapping this host on-link routes', async () => {
      const c = await startNode({
        nodeId: 'node-c',
        endpoints,
        prefix,
        routes: ['10.80.0.0/23', '10.80.2.128/25'],
      });
      try {
        const reply = await c.pools.requestPool({ options: {}, v6: false });
        expect(reply.pool).toBe('10.80.3.0/24');
      } finally {
        await c.close();
      }
    });

    it('should ignore host routes when KONTENA_IPAM_AVOID_HOST_ROUTES=false', async () => {
      const c = await startNode({
        nodeId: 'node-c',
        endpoints,
        prefix,
        routes: ['10.80.0.0/16'],
        env: { KONTENA_IPAM_AVOID_HOST_ROUTES: 'false' },
      });
      try {
        expect((await c.pools.requestPool({ options: {}, v6: false })).pool).toBe('10.80.0.0/24');
      } finally {
        await c.close();
      }
    });

    it('should give every node the same shared pool and delete it after the last release', async () => {
      const fromA = await a.pools.requestPool(shared('blue'));
      const fromB = await b.pools.requestPool(shared('blue'));
      expect(fromB).toEqual(fromA);
      expect(await raw.keys('pool-nodes/blue/')).toEqual([
        'pool-nodes/blue/node-a',
        'pool-nodes/blue/node-b',
      ]);
      await a.pools.releasePool('blue');
      expect(await raw.keys('pools/')).toEqual(['pools/blue']);
      await b.pools.releasePool('blue');
      expect(await raw.dump()).toEqual({});
    });

    it('should count references per node: two requests, one release keeps the pool', async () => {
      await a.pools.requestPool(shared('refs'));
      await a.pools.requestPool(shared('refs'));
      expect((await raw.dump())['pool-nodes/refs/node-a']).toMatchObject({ refs: 2 });
      await a.pools.releasePool('refs');
      expect((await raw.dump())['pool-nodes/refs/node-a']).toMatchObject({ refs: 1 });
      expect(await raw.keys('pools/')).toEqual(['pools/refs']);
      await a.pools.releasePool('refs');
      expect(await raw.dump()).toEqual({});
    });

    it('should treat releases of unknown pools and of non-members as no-ops', async () => {
      await a.pools.requestPool(shared('solo'));
      const before = await raw.dump();
      await b.pools.releasePool('solo');
      await b.pools.releasePool('nope');
      expect(await raw.dump()).toEqual(before);
    });

    it('should take the stored values when a shared pool is requested without Pool', async () => {
      await a.pools.requestPool(
        shared('static', { pool: '10.99.0.0/24', subPool: '10.99.0.128/25' }),
      );
      const reply = await b.pools.requestPool(shared('static'));
      expect(reply.pool).toBe('10.99.0.0/24');
    });

    it.each([
      {
        name: 'other subnet',
        second: { pool: '10.99.1.0/24' },
        message: 'pool mm exists with subnet 10.99.0.0/24, requested 10.99.1.0/24',
      },
      {
        name: 'other ip range',
        second: { pool: '10.99.0.0/24', subPool: '10.99.0.0/25' },
        message: 'pool mm exists with ip range 10.99.0.128/25, requested 10.99.0.0/25',
      },
    ])('should reject a shared pool request with an $name and change nothing', async (row) => {
      await a.pools.requestPool(shared('mm', { pool: '10.99.0.0/24', subPool: '10.99.0.128/25' }));
      const before = await raw.dump();
      const err = await b.pools.requestPool(shared('mm', row.second)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PoolMismatch);
      expect((err as Error).message).toBe(row.message);
      expect(await raw.dump()).toEqual(before);
    });

    it.each([
      { name: 'a larger subnet around it', pool: '10.90.0.0/16' },
      { name: 'a smaller subnet inside it', pool: '10.90.10.128/25' },
      { name: 'the same subnet', pool: '10.90.10.0/24' },
    ])('should reject a static subnet overlapping $name and change nothing', async (row) => {
      await a.pools.requestPool(shared('first', { pool: '10.90.10.0/24' }));
      const before = await raw.dump();
      const err = await b.pools
        .requestPool(shared('second', { pool: row.pool }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SubnetConflict);
      expect((err as Error).message).toBe(
        `${row.pool} conflict: Conflict with network 10.90.10.0/24 of pool first; choose another --subnet`,
      );
      expect(await raw.dump()).toEqual(before);
    });

    it.each<{ name: string; req: PoolRequest; text: string }>([
      {
        name: 'IPv6 link-local',
        req: { pool: 'fe80::/64', options: {}, v6: true },
        text: 'link-local',
      },
      {
        name: 'IPv6 Pool with V6 false',
        req: { pool: '2001:db8::/64', options: {}, v6: false },
        text: 'but V6 is false',
      },
      {
        name: 'SubPool without Pool',
        req: { subPool: '10.1.0.0/24', options: {}, v6: false },
        text: 'requires Pool',
      },
      {
        name: 'SubPool outside Pool',
        req: { pool: '10.1.0.0/24', subPool: '10.2.0.0/25', options: {}, v6: false },
        text: 'is not inside Pool',
      },
      {
        name: 'host bits',
        req: { pool: '10.1.0.1/24', options: {}, v6: false },
        text: 'did you mean 10.1.0.0/24',
      },
      { name: '/31', req: { pool: '10.1.0.0/31', options: {}, v6: false }, text: '/8 to /30' },
      { name: '/7', req: { pool: '10.0.0.0/7', options: {}, v6: false }, text: '/8 to /30' },
      {
        name: 'bad CIDR',
        req: { pool: '10.1.0.0/33', options: {}, v6: false },
        text: 'Pool: invalid CIDR prefix "10.1.0.0/33"',
      },
      {
        name: 'bad network name',
        req: { options: { network: 'a/b' }, v6: false },
        text: 'Options.network "a/b" is not a valid network name',
      },
    ])('should reject $name before any write', async (row) => {
      const before = await raw.dump();
      const err = await a.pools.requestPool(row.req).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequest);
      expect((err as Error).message).toContain(row.text);
      expect(await raw.dump()).toEqual(before);
    });
  });

  describe('RequestAddress and ReleaseAddress', () => {
    it('should hand out dynamic addresses from the SubPool only, never the gateway', async () => {
      await a.pools.requestPool(shared('rng', { pool: '10.70.0.0/24', subPool: '10.70.0.0/30' }));
      const got = new Set<string>();
      got.add((await a.addresses.requestAddress({ poolId: 'rng', options: {} })).address);
      got.add((await b.addresses.requestAddress({ poolId: 'rng', options: {} })).address);
      // 10.70.0.0/30 holds .0 (network), .1 (gateway), .2, .3: only .2 and .3 remain.
      expect([...got].sort()).toEqual(['10.70.0.2/24', '10.70.0.3/24']);
      await expect(a.addresses.requestAddress({ poolId: 'rng', options: {} })).rejects.toThrow(
        PoolExhausted,
      );
    });

    it('should never hand out the network or broadcast address', async () => {
      await a.pools.requestPool(shared('tiny', { pool: '10.70.1.0/30' }));
      expect((await a.addresses.requestAddress({ poolId: 'tiny', options: {} })).address).toBe(
        '10.70.1.2/30',
      );
      await expect(a.addresses.requestAddress({ poolId: 'tiny', options: {} })).rejects.toThrow(
        'no addresses available in pool tiny: `kontena-ipam-ctl show tiny` lists who holds them; ' +
          '`kontena-ipam-cleanup` on each host frees those its Docker no longer uses',
      );
    });

    it('should allocate a static address once and record owner and kind', async () => {
      await a.pools.requestPool(shared('st', { pool: '10.70.2.0/24' }));
      const reply = await a.addresses.requestAddress({
        poolId: 'st',
        address: '10.70.2.10',
        options: { 'com.docker.network.endpoint.name': 'web-1' },
      });
      expect(reply).toEqual({ address: '10.70.2.10/24', data: {} });
      expect((await raw.dump())['addresses/st/10.70.2.10']).toMatchObject({
        address: '10.70.2.10/24',
        node: 'node-a',
        type: 'endpoint',
        name: 'web-1',
      });
      const err = await b.addresses
        .requestAddress({ poolId: 'st', address: '10.70.2.10', options: containerOptions() })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AddressInUse);
      expect((err as Error).message).toBe(
        'address 10.70.2.10 is already allocated in pool st, held by node node-a for container web-1',
      );
    });

    it.each([
      { name: 'outside the subnet', address: '10.70.3.1', error: AddressOutOfRange },
      { name: 'the network address', address: '10.70.2.0', error: InvalidRequest },
      { name: 'the broadcast address', address: '10.70.2.255', error: InvalidRequest },
      { name: 'an IPv6 address', address: '2001:db8::1', error: AddressOutOfRange },
      { name: 'not an address', address: '10.70.2', error: InvalidRequest },
    ])('should reject $name and change nothing', async (row) => {
      await a.pools.requestPool(shared('st', { pool: '10.70.2.0/24' }));
      const before = await raw.dump();
      await expect(
        a.addresses.requestAddress({ poolId: 'st', address: row.address, options: {} }),
      ).rejects.toThrow(row.error);
      expect(await raw.dump()).toEqual(before);
    });

    it('should reject an unknown pool', async () => {
      await expect(a.addresses.requestAddress({ poolId: 'ghost', options: {} })).rejects.toThrow(
        PoolNotFound,
      );
    });

    it('should answer gateway requests: the pool gateway without a write, a custom one reserved once', async () => {
      await a.pools.requestPool(shared('gw', { pool: '10.70.4.0/24' }));
      const gateway = { RequestAddressType: 'com.docker.network.gateway' };
      // The pool's own gateway, from a second node: 200, no write.
      const before = await raw.dump();
      expect(
        await b.addresses.requestAddress({ poolId: 'gw', address: '10.70.4.1', options: gateway }),
      ).toEqual({ address: '10.70.4.1/24', data: {} });
      expect(await raw.dump()).toEqual(before);
      // A free address as a custom gateway: reserved with kind gateway, idempotent.
      await a.addresses.requestAddress({ poolId: 'gw', address: '10.70.4.254', options: gateway });
      expect((await raw.dump())['addresses/gw/10.70.4.254']).toMatchObject({ type: 'gateway' });
      await b.addresses.requestAddress({ poolId: 'gw', address: '10.70.4.254', options: gateway });
      // An address held by a container is not a gateway.
      await a.addresses.requestAddress({
        poolId: 'gw',
        address: '10.70.4.20',
        options: containerOptions(),
      });
      await expect(
        b.addresses.requestAddress({ poolId: 'gw', address: '10.70.4.20', options: gateway }),
      ).rejects.toThrow(
        'address 10.70.4.20 is already allocated in pool gw, held by node node-a for a container (or an --aux-address)',
      );
      // A custom gateway is not free for a container: the message says whose gateway it is.
      await expect(
        b.addresses.requestAddress({ poolId: 'gw', address: '10.70.4.254', options: {} }),
      ).rejects.toThrow(
        'address 10.70.4.254 is already allocated in pool gw, held by node node-a as a network gateway',
      );
      // Releasing a gateway keeps it while the pool lives.
      await a.addresses.releaseAddress({ poolId: 'gw', address: '10.70.4.254' });
      await a.addresses.releaseAddress({ poolId: 'gw', address: '10.70.4.1' });
      expect(await raw.keys('addresses/gw/')).toContain('addresses/gw/10.70.4.254');
      expect(await raw.keys('addresses/gw/')).toContain('addresses/gw/10.70.4.1');
    });

    it('should release only this node addresses, idempotently', async () => {
      await a.pools.requestPool(shared('rel', { pool: '10.70.5.0/24' }));
      await a.addresses.requestAddress({
        poolId: 'rel',
        address: '10.70.5.10',
        options: containerOptions(),
      });
      await b.addresses.requestAddress({
        poolId: 'rel',
        address: '10.70.5.11',
        options: containerOptions(),
      });
      await a.addresses.releaseAddress({ poolId: 'rel', address: '10.70.5.11' });
      expect(await raw.keys('addresses/rel/')).toContain('addresses/rel/10.70.5.11');
      await a.addresses.releaseAddress({ poolId: 'rel', address: '10.70.5.10' });
      await a.addresses.releaseAddress({ poolId: 'rel', address: '10.70.5.10' });
      await a.addresses.releaseAddress({ poolId: 'unknown', address: '10.70.5.10' });
      expect(await raw.keys('addresses/rel/')).not.toContain('addresses/rel/10.70.5.10');
      // The freed address can be taken again.
      await b.addresses.requestAddress({
        poolId: 'rel',
        address: '10.70.5.10',
        options: containerOptions(),
      });
    });

    it('should see addresses freed by another node through the watch', async () => {
      await a.pools.requestPool(shared('w', { pool: '10.70.6.0/29' }));
      // .1 gateway; .2-.6 hosts: five addresses.
      const mine: string[] = [];
      for (let i = 0; i < 5; i++) {
        mine.push((await b.addresses.requestAddress({ poolId: 'w', options: {} })).address);
      }
      await expect(a.addresses.requestAddress({ poolId: 'w', options: {} })).rejects.toThrow(
        PoolExhausted,
      );
      await b.addresses.releaseAddress({ poolId: 'w', address: mine[2]!.split('/')[0]! });
      expect((await a.addresses.requestAddress({ poolId: 'w', options: {} })).address).toBe(
        mine[2],
      );
    });

    it('should notice that a pool was deleted and re-created under the same name', async () => {
      await a.pools.requestPool(shared('again', { pool: '10.70.7.0/24' }));
      await a.addresses.requestAddress({ poolId: 'again', options: {} });
      await a.pools.releasePool('again');
      await b.pools.requestPool(shared('again', { pool: '10.70.8.0/24' }));
      const reply = await a.addresses.requestAddress({ poolId: 'again', options: {} });
      expect(reply.address).toMatch(/^10\.70\.8\.\d+\/24$/);
    });
    it('should answer concurrent calls on a pool deleted under its cached view with PoolNotFound, never crash', async () => {
      // Regression (CI, crash-safety): a call that found its cached pool gone dropped the cache
      // entry with a .then() and no rejection handler; when another call had already begun to
      // reload the pool, that reload's PoolNotFound became an unhandled rejection, which kills
      // the plugin process.
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        for (let round = 0; round < 10; round++) {
          const id = `gone-${round}`;
          await a.pools.requestPool(shared(id, { pool: `10.70.${20 + round}.0/24` }));
          await a.addresses.requestAddress({ poolId: id, options: {} });
          await b.pools.requestPool(shared(id));
          await a.pools.releasePool(id);
          await b.pools.releasePool(id); // the last member: the pool is deleted
          const calls = Array.from({ length: 16 }, (_, i) =>
            a.addresses.requestAddress({
              poolId: id,
              options: {},
              ...(i % 4 === 0 ? { address: `10.70.${20 + round}.${100 + i}` } : {}),
            }),
          );
          const settled = await Promise.allSettled(calls);
          for (const s of settled) {
            expect(s.status).toBe('rejected');
            expect((s as PromiseRejectedResult).reason).toBeInstanceOf(PoolNotFound);
          }
        }
        // Let any stray rejection surface before judging.
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });

  describe('two nodes at once', () => {
    it('should hand out 2 x 200 concurrent dynamic addresses, all distinct', async () => {
      await a.pools.requestPool(shared('busy', { pool: '10.60.0.0/22' }));
      await b.pools.requestPool(shared('busy'));
      const calls = [a, b].flatMap((node) =>
        Array.from({ length: 200 }, () =>
          node.addresses.requestAddress({ poolId: 'busy', options: {} }),
        ),
      );
      const replies = await Promise.all(calls);
      const addresses = replies.map((r) => r.address);
      expect(new Set(addresses).size).toBe(400);
      const stored = await raw.keys('addresses/busy/');
      expect(stored).toHaveLength(401); // + the gateway
      const owners = await raw.dump();
      const byNode = Object.values(owners).filter(
        (v) => (v as { type?: string }).type === 'endpoint',
      ) as { node: string }[];
      expect(byNode.filter((v) => v.node === 'node-a')).toHaveLength(200);
      expect(byNode.filter((v) => v.node === 'node-b')).toHaveLength(200);
    });

    it('should let exactly one of two overlapping static pools win, 50 rounds', async () => {
      for (let round = 0; round < 50; round++) {
        const results = await Promise.allSettled([
          a.pools.requestPool(shared(`big-${round}`, { pool: '10.90.0.0/16' })),
          b.pools.requestPool(shared(`small-${round}`, { pool: '10.90.10.0/24' })),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(SubnetConflict);
        await a.pools.releasePool(`big-${round}`);
        await b.pools.releasePool(`small-${round}`);
        expect(await raw.dump()).toEqual({});
      }
    });

    it('should create one pool with two members when both nodes ask for a name at once', async () => {
      for (let round = 0; round < 10; round++) {
        const [x, y] = await Promise.all([
          a.pools.requestPool(shared(`same-${round}`)),
          b.pools.requestPool(shared(`same-${round}`)),
        ]);
        expect(x).toEqual(y);
        expect(await raw.keys(`pool-nodes/same-${round}/`)).toHaveLength(2);
        await Promise.all([
          a.pools.releasePool(`same-${round}`),
          b.pools.releasePool(`same-${round}`),
        ]);
        expect(await raw.dump()).toEqual({});
      }
    });

    it('should never give two concurrent dynamic pools the same subnet', async () => {
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).pools.requestPool({ options: {}, v6: false }),
        ),
      );
      const subnets = replies.map((r) => r.pool);
      expect(new Set(subnets).size).toBe(20);
      expect(await raw.keys('subnets/')).toHaveLength(20);
    });
  });
});

describe('allocators when etcd is unreachable', () => {
  let node: IpamNode;
  beforeAll(async () => {
    node = await startNode({
      nodeId: 'lonely',
      endpoints: ['http://127.0.0.1:1'],
      prefix: uniquePrefix('down'),
      env: { ETCD_WAIT_TIMEOUT: '1' },
    });
  });
  afterAll(async () => {
    await node.close();
  });

  it('should fail with StoreUnavailable after ETCD_WAIT_TIMEOUT', async () => {
    const started = Date.now();
    const err = await node.pools.requestPool(shared('x')).catch((e: unknown) => e);
    expect((err as Error).constructor.name).toBe('StoreUnavailable');
    expect((err as Error).message).toMatch(/^etcd is unreachable at http:\/\/127\.0\.0\.1:1: /);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(node.connection.status().ready).toBe(false);
  });
});
