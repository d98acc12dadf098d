import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { PoolExhausted } from '#app/ipam';
import { RawEtcd, startTwoNodes, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');

/** The /24 slice of an address reply (`10.61.3.17/22` → `10.61.3.`). */
const sliceOf = (reply: { address: string }): string => reply.address.replace(/\d+\/\d+$/, '');

/** The `within` of every address feed `node` opens from now on ('' for the whole pool). */
function feedsOf(node: IpamNode): string[] {
  const withins: string[] = [];
  const open = node.store.openAddressFeed.bind(node.store);
  node.store.openAddressFeed = (poolId, handler, within) => {
    withins.push(within ?? '');
    return open(poolId, handler, within);
  };
  return withins;
}

/**
 * A pool larger than a /24 is read in /24 slices (libs/allocator/src/pool-view.ts): each node
 * lists and watches only the slices it allocates from. These run on a real etcd and check what
 * the store holds, not only what the allocators say.
 */
describe('pools read in slices', () => {
  let prefix: string;
  let a: IpamNode;
  let b: IpamNode;
  let raw: RawEtcd;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ prefix, raw, a, b, close } = await startTwoNodes('slices', endpoints));
  });

  afterEach(() => close());

  /** Writes `count` addresses of another node into `pool`, from `first` on. */
  async function preload(pool: string, octets: string, first: number, count: number) {
    for (let i = 0; i < count; i += 100) {
      const ops = [];
      for (let j = i; j < Math.min(count, i + 100); j++) {
        const n = first + j;
        const ip = `${octets}.${n >> 8}.${n & 255}`;
        const value = JSON.stringify({ address: `${ip}/22`, node: 'gone', type: 'endpoint' });
        ops.push(raw.client.put(`${prefix}/addresses/${pool}/${ip}`).value(value));
      }
      await Promise.all(ops);
    }
  }

  it('should count and list the addresses of one slice only', async () => {
    await a.pools.requestPool({ pool: '10.61.0.0/22', options: { network: 's' }, v6: false });
    await preload('s', '10.61', 256 + 5, 3); // 10.61.1.5-7
    const deadline = a.store.deadline();
    expect(
      await a.store.countAddresses('s', ['10.61.0.', '10.61.1.', '10.61.2.'], deadline),
    ).toEqual([1, 3, 0]);
    const { ips } = await a.store.listAddressKeys('s', deadline, '10.61.1.');
    expect(ips.sort()).toEqual(['10.61.1.5', '10.61.1.6', '10.61.1.7']);
    expect((await a.store.listAddressKeys('s', deadline)).ips).toHaveLength(4);
  });

  it('should give two nodes of a shared pool different slices, and watch only those', async () => {
    await a.pools.requestPool({ pool: '10.61.0.0/16', options: { network: 's' }, v6: false });
    await b.pools.requestPool({ options: { network: 's' }, v6: false });
    const [watchedByA, watchedByB] = [feedsOf(a), feedsOf(b)];
    const first = await a.addresses.requestAddress({ poolId: 's', options: {} });
    const second = await b.addresses.requestAddress({ poolId: 's', options: {} });
    expect(sliceOf(second)).not.toBe(sliceOf(first));
    expect(watchedByA).toEqual([sliceOf(first)]);
    expect(watchedByB).toEqual([sliceOf(second)]);
    // Each node keeps to its slice.
    const more = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? b : a).addresses.requestAddress({ poolId: 's', options: {} }),
      ),
    );
    more.forEach((r, i) => expect(sliceOf(r)).toBe(sliceOf(i % 2 ? second : first)));
  });

  it('should let a new node allocate at once from the slice with room in a nearly full pool', async () => {
    await a.pools.requestPool({ pool: '10.62.0.0/22', options: { network: 'full' }, v6: false });
    await preload('full', '10.62', 2, 3 * 256 - 2); // every address of the first three /24s
    await b.pools.requestPool({ options: { network: 'full' }, v6: false });
    const reply = await b.addresses.requestAddress({ poolId: 'full', options: {} });
    expect(sliceOf(reply)).toBe('10.62.3.');
  });

  it('should hand out every address of a pool across its slices, once, then answer exhausted', async () => {
    await a.pools.requestPool({ pool: '10.63.0.0/22', options: { network: 'all' }, v6: false });
    await b.pools.requestPool({ options: { network: 'all' }, v6: false });
    // 1,024 less network, broadcast and gateway, from both nodes at once.
    const replies = await Promise.all(
      Array.from({ length: 1021 }, (_, i) =>
        (i % 3 ? a : b).addresses.requestAddress({ poolId: 'all', options: {} }),
      ),
    );
    expect(new Set(replies.map((r) => r.address)).size).toBe(1021);
    expect(await raw.keys('addresses/all/')).toHaveLength(1022);
    await expect(a.addresses.requestAddress({ poolId: 'all', options: {} })).rejects.toThrow(
      PoolExhausted,
    );
    await expect(b.addresses.requestAddress({ poolId: 'all', options: {} })).rejects.toThrow(
      PoolExhausted,
    );
  });

  it('should see an address freed by another node in a slice it reads', async () => {
    await a.pools.requestPool({ pool: '10.64.0.0/23', options: { network: 'w' }, v6: false });
    await b.pools.requestPool({ options: { network: 'w' }, v6: false });
    // b fills the whole pool: 512 less network, broadcast and gateway.
    const mine = await Promise.all(
      Array.from({ length: 509 }, () => b.addresses.requestAddress({ poolId: 'w', options: {} })),
    );
    await expect(a.addresses.requestAddress({ poolId: 'w', options: {} })).rejects.toThrow(
      PoolExhausted,
    );
    const freed = mine[100]!.address.split('/')[0]!;
    await b.addresses.releaseAddress({ poolId: 'w', address: freed });
    await expect.poll(async () => (await raw.keys('addresses/w/')).length).toBe(510 - 1);
    expect((await a.addresses.requestAddress({ poolId: 'w', options: {} })).address).toBe(
      mine[100]!.address,
    );
  });
});
