// Issue 5, item 2: a transaction that committed but whose reply was lost is sent again by the
// store (same nonce) and must be recognised as our own success: never a conflict, a leak, a
// double count or the deletion of somebody else's new write.
//
// Node "node-a" reaches etcd only through a proxy that forwards one chosen transaction, waits
// until etcd has answered it (so it has committed: `whileHeld` checks that in etcd directly),
// and then cuts the connection instead of forwarding the answer. Its "twin" is a second
// allocator of the same NODE_ID talking to etcd directly: what another call on the same host
// could do between the lost reply and the retry.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  containerOptions,
  type DockerPoolRequest as PoolRequest,
} from '../support/docker-calls.js';
import { RawEtcd, startNode, type IpamNode } from '../int/harness.js';
import {
  occurrences,
  startLostReplyProxy,
  type CutReport,
  type LostReplyProxy,
} from '../support/lost-reply-proxy.js';
import { uniquePrefix } from '../support/prefix.js';

const endpoints = inject('etcdEndpoints');
const NODE = 'node-a';

const shared = (network: string, extra: Partial<PoolRequest> = {}): PoolRequest => ({
  options: { network },
  v6: false,
  ...extra,
});

/** A request that names `k` at least twice: a transaction comparing and writing it. */
const writes =
  (k: string) =>
  (message: Buffer): boolean =>
    occurrences(message, k) >= 2;

// The proxy reads HTTP/2 frames: it needs a plain-HTTP etcd (an https ETCD_ENDPOINT skips this).
describe.skipIf(!endpoints[0]?.startsWith('http://'))(
  'a lost reply to a committed transaction',
  () => {
    let proxy: LostReplyProxy;
    let prefix: string;
    let raw: RawEtcd;
    /** node-a through the proxy */
    let a: IpamNode;
    /** node-a again, directly: another call of the same host */
    let twin: IpamNode;
    /** another host, directly */
    let b: IpamNode;

    beforeAll(async () => {
      proxy = await startLostReplyProxy(endpoints[0] ?? '');
    });
    afterAll(async () => {
      await proxy.close();
    });

    beforeEach(async () => {
      prefix = uniquePrefix('lost-reply');
      raw = new RawEtcd(endpoints, prefix);
      a = await startNode({ nodeId: NODE, endpoints: [proxy.url], prefix });
      twin = await startNode({ nodeId: NODE, endpoints, prefix });
      b = await startNode({ nodeId: 'node-b', endpoints, prefix });
    });
    afterEach(async () => {
      await Promise.all([a.close(), twin.close(), b.close()]);
      await raw.client.delete().prefix(`${prefix}/`);
      raw.close();
    });

    const key = {
      pool: (id: string) => `${prefix}/pools/${id}`,
      member: (id: string, node = NODE) => `${prefix}/pool-nodes/${id}/${node}`,
      address: (id: string, ip: string) => `${prefix}/addresses/${id}/${ip}`,
    };

    const get = async (k: string): Promise<Record<string, unknown> | undefined> => {
      const v = await raw.client.get(k).string();
      return v === null ? undefined : (JSON.parse(v) as Record<string, unknown>);
    };

    /** Runs `call` with the reply of the request picked by `match` lost; checks the cut happened. */
    async function withLostReply<T>(
      match: (message: Buffer) => boolean,
      committed: () => Promise<void>,
      call: () => Promise<T>,
    ): Promise<T> {
      let checked = false;
      const cut: Promise<CutReport> = proxy.loseNextReply({
        match,
        whileHeld: async () => {
          await committed();
          checked = true;
        },
      });
      // Settled at the end; a failed check inside the cut must not surface as unhandled.
      cut.catch(() => undefined);
      const connectionsBefore = proxy.connections;
      const result = await call();
      await cut;
      expect(checked).toBe(true);
      // The retry went over a new connection: the first one was cut.
      expect(proxy.connections).toBeGreaterThan(connectionsBefore);
      return result;
    }

    it('should report a created pool as created, with exactly one pool, subnet and membership', async () => {
      const reply = await withLostReply(
        writes(key.pool('created')),
        async () => expect(await get(key.pool('created'))).toBeDefined(),
        () => a.pools.requestPool(shared('created', { pool: '10.81.0.0/16' })),
      );
      expect(reply).toMatchObject({ poolId: 'created', pool: '10.81.0.0/16' });
      const dump = await raw.dump();
      expect(Object.keys(dump).sort()).toEqual([
        'addresses/created/10.81.0.1',
        'pool-nodes/created/node-a',
        'pools/created',
        'subnets/10.81.0.0',
      ]);
      expect(dump['pool-nodes/created/node-a']).toMatchObject({ refs: 1 });
    });

    it('should count a join once', async () => {
      await b.pools.requestPool(shared('joined', { pool: '10.82.0.0/16' }));
      await withLostReply(
        writes(key.member('joined')),
        async () => expect(await get(key.member('joined'))).toMatchObject({ refs: 1 }),
        () => a.pools.requestPool(shared('joined')),
      );
      expect(await get(key.member('joined'))).toMatchObject({ refs: 1 });
      await withLostReply(
        writes(key.member('joined')),
        async () => expect(await get(key.member('joined'))).toMatchObject({ refs: 2 }),
        () => a.pools.requestPool(shared('joined')),
      );
      expect(await get(key.member('joined'))).toMatchObject({ refs: 2 });
    });

    it('should count a join once when the same host joined again before the retry', async () => {
      await b.pools.requestPool(shared('join-race', { pool: '10.83.0.0/16' }));
      await withLostReply(
        writes(key.member('join-race')),
        async () => {
          expect(await get(key.member('join-race'))).toMatchObject({ refs: 1 });
          await twin.pools.requestPool(shared('join-race'));
        },
        () => a.pools.requestPool(shared('join-race')),
      );
      expect(await get(key.member('join-race'))).toMatchObject({ refs: 2 });
    });

    it('should release one reference once, also when the same host released another meanwhile', async () => {
      for (let i = 0; i < 3; i++) {
        await a.pools.requestPool(shared('refs', { pool: '10.84.0.0/16' }));
      }
      expect(await get(key.member('refs'))).toMatchObject({ refs: 3 });
      await withLostReply(
        writes(key.member('refs')),
        async () => {
          expect(await get(key.member('refs'))).toMatchObject({ refs: 2 });
          await twin.pools.releasePool('refs');
        },
        () => a.pools.releasePool('refs'),
      );
      // Two releases of three references: one is left, and the pool lives.
      expect(await get(key.member('refs'))).toMatchObject({ refs: 1 });
      expect(await get(key.pool('refs'))).toBeDefined();
    });

    it('should delete a pool once when the last release is retried', async () => {
      await a.pools.requestPool(shared('last', { pool: '10.85.0.0/16' }));
      await withLostReply(
        writes(key.member('last')),
        async () => expect(await get(key.pool('last'))).toBeUndefined(),
        () => a.pools.releasePool('last'),
      );
      expect(await raw.dump()).toEqual({});
    });

    it('should leave a pool once, keeping a membership the same host took again meanwhile', async () => {
      await b.pools.requestPool(shared('left', { pool: '10.86.0.0/16' }));
      await a.pools.requestPool(shared('left'));
      await withLostReply(
        writes(key.member('left')),
        async () => {
          expect(await get(key.member('left'))).toBeUndefined();
          // Another network of this host asks for the pool before the retry.
          await twin.pools.requestPool(shared('left'));
        },
        () => a.pools.releasePool('left'),
      );
      expect(await get(key.member('left'))).toMatchObject({ refs: 1 });
      expect(await get(key.member('left', 'node-b'))).toMatchObject({ refs: 1 });
    });

    it('should grant a dynamic address once, never as a conflict', async () => {
      await b.pools.requestPool(shared('dyn', { pool: '10.87.0.0/24' }));
      // Load the pool (and its watch) first, so the lost request is the reservation itself.
      await a.addresses.requestAddress({ poolId: 'dyn', options: {} });
      const addresses = `${prefix}/addresses/dyn/`;
      const reply = await withLostReply(
        (m) => occurrences(m, addresses) >= 2,
        async () => expect(Object.keys(await raw.dump())).toHaveLength(6),
        () => a.addresses.requestAddress({ poolId: 'dyn', options: {} }),
      );
      const ip = reply.address.split('/')[0] ?? '';
      expect(await get(key.address('dyn', ip))).toMatchObject({ node: NODE, type: 'endpoint' });
      // Gateway, the first address and this one: no second address for the same request.
      expect((await raw.keys('addresses/dyn/')).length).toBe(3);
    });

    it('should grant a static address once, never as "already allocated"', async () => {
      await b.pools.requestPool(shared('static', { pool: '10.88.0.0/24' }));
      const reply = await withLostReply(
        writes(key.address('static', '10.88.0.10')),
        async () => expect(await get(key.address('static', '10.88.0.10'))).toBeDefined(),
        () =>
          a.addresses.requestAddress({
            poolId: 'static',
            address: '10.88.0.10',
            options: containerOptions(),
          }),
      );
      expect(reply.address).toBe('10.88.0.10/24');
      expect(await raw.keys('addresses/static/')).toEqual([
        'addresses/static/10.88.0.1',
        'addresses/static/10.88.0.10',
      ]);
    });

    it('should release an address once, keeping the same address allocated again meanwhile', async () => {
      await b.pools.requestPool(shared('rel', { pool: '10.89.0.0/24' }));
      await a.addresses.requestAddress({
        poolId: 'rel',
        address: '10.89.0.20',
        options: containerOptions(),
      });
      await a.addresses.requestAddress({
        poolId: 'rel',
        address: '10.89.0.21',
        options: containerOptions(),
      });
      // A plain lost reply: the address is gone, the call succeeds.
      await withLostReply(
        writes(key.address('rel', '10.89.0.20')),
        async () => expect(await get(key.address('rel', '10.89.0.20'))).toBeUndefined(),
        () => a.addresses.releaseAddress({ poolId: 'rel', address: '10.89.0.20' }),
      );
      expect(await get(key.address('rel', '10.89.0.20'))).toBeUndefined();
      // The address is handed to a new container of this host before the retry: the retried
      // release must not take it away from it.
      await withLostReply(
        writes(key.address('rel', '10.89.0.21')),
        async () => {
          expect(await get(key.address('rel', '10.89.0.21'))).toBeUndefined();
          await twin.addresses.requestAddress({
            poolId: 'rel',
            address: '10.89.0.21',
            options: { 'com.docker.network.endpoint.name': 'newcomer' },
          });
        },
        () => a.addresses.releaseAddress({ poolId: 'rel', address: '10.89.0.21' }),
      );
      expect(await get(key.address('rel', '10.89.0.21'))).toMatchObject({
        node: NODE,
        name: 'newcomer',
      });
    });
  },
);
