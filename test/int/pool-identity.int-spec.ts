import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { AddressOutOfRange, PoolExhausted, PoolNotFound } from '#app/ipam';
import type { DockerPoolRequest } from '../support/docker-calls.js';
import { RawEtcd, startTwoNodes, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');
const GATEWAY = { RequestAddressType: 'com.docker.network.gateway' };

const shared = (network: string, pool: string): DockerPoolRequest => ({
  options: { network },
  pool,
  v6: false,
});

/**
 * What a node remembers of a pool it allocates from (its subnet, free set, cursor, feed) belongs
 * to one pool in etcd: the pool of that name with that create revision. A pool released,
 * deleted by another node or re-created under the same name is another pool, and no answer may
 * be decided on the memory of the old one (issue #15, item 1).
 */
describe('a pool re-created under the same name', () => {
  let prefix: string;
  let a: IpamNode;
  let b: IpamNode;
  let raw: RawEtcd;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ prefix, raw, a, b, close } = await startTwoNodes('identity', endpoints));
  });

  afterEach(() => close());

  /** Node a allocates from `blue` as `first`, then leaves it to node b, who deletes it. */
  async function deletedUnderNodeA(first: string): Promise<void> {
    await a.pools.requestPool(shared('blue', first));
    await a.addresses.requestAddress({ poolId: 'blue', options: {} });
    await b.pools.requestPool(shared('blue', first));
    // Node a's membership goes as `kontena-ipam-cleanup --forget-node node-a` would take it:
    // node a is never told, and keeps what it knows of the pool.
    await raw.client.delete().key(`${prefix}/pool-nodes/blue/node-a`);
    await b.pools.releasePool('blue');
    expect(await raw.keys('pools/')).toEqual([]);
  }

  /**
   * Node a allocates from `blue` as `first`; then the pool goes as no release takes it: its pool,
   * subnet and membership keys are deleted, its addresses left. Node a's watch of the pools tells
   * it soon, but not before its next answer for sure: that answer must come from etcd
   * (address-allocator.spec.ts proves it with no watch at all).
   */
  async function goneBehindTheWatch(first: string): Promise<void> {
    await a.pools.requestPool(shared('blue', first));
    await a.addresses.requestAddress({ poolId: 'blue', options: {} });
    await raw.client.delete().key(`${prefix}/pools/blue`);
    await raw.client.delete().key(`${prefix}/subnets/${first.split('/')[0]!}`);
    await raw.client.delete().prefix(`${prefix}/pool-nodes/blue/`);
  }

  it('should give the docker network rm / create sequence the new subnet on the same node', async () => {
    await a.pools.requestPool(shared('blue', '10.90.0.0/24'));
    await a.addresses.requestAddress({ poolId: 'blue', options: {} });
    expect(a.states.size).toBe(1);
    await a.pools.releasePool('blue');
    expect(a.states.size).toBe(0);
    // Released and deleted: not the old pool's gateway any more.
    await expect(
      a.addresses.requestAddress({ poolId: 'blue', address: '10.90.0.1', options: GATEWAY }),
    ).rejects.toThrow(PoolNotFound);
    await a.pools.requestPool(shared('blue', '10.91.0.0/24'));
    expect(
      await a.addresses.requestAddress({ poolId: 'blue', address: '10.91.0.5', options: {} }),
    ).toEqual({ address: '10.91.0.5/24', data: {} });
    expect(
      await a.addresses.requestAddress({ poolId: 'blue', address: '10.91.0.1', options: GATEWAY }),
    ).toEqual({ address: '10.91.0.1/24', data: {} });
  });

  it('should drop what it knew of a pool that another node deleted', async () => {
    await deletedUnderNodeA('10.90.0.0/24');
    await vi.waitFor(() => expect(a.states.size).toBe(0), { timeout: 5_000 });
  });

  it('should drop what it knew of a pool it left while others use it', async () => {
    await a.pools.requestPool(shared('blue', '10.90.0.0/24'));
    await b.pools.requestPool(shared('blue', '10.90.0.0/24'));
    await a.addresses.requestAddress({ poolId: 'blue', options: {} });
    expect(a.states.size).toBe(1);
    await a.pools.releasePool('blue');
    expect(a.states.size).toBe(0);
  });

  it('should keep what it knows of a pool while it lives', async () => {
    await a.pools.requestPool(shared('blue', '10.90.0.0/24'));
    await b.pools.requestPool(shared('blue', '10.90.0.0/24'));
    await a.addresses.requestAddress({ poolId: 'blue', options: {} });
    const mine = await b.addresses.requestAddress({ poolId: 'blue', options: {} });
    await b.addresses.releaseAddress({ poolId: 'blue', address: mine.address.split('/')[0]! });
    await b.pools.releasePool('blue');
    // Long enough for node a's watch to deliver both deletes (a few milliseconds).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(a.states.size).toBe(1);
  });

  it('should decide a static address on the pool that exists when another node re-created it', async () => {
    await goneBehindTheWatch('10.90.0.0/24');
    await b.pools.requestPool(shared('blue', '10.91.0.0/24'));
    expect(
      await a.addresses.requestAddress({ poolId: 'blue', address: '10.91.0.5', options: {} }),
    ).toEqual({ address: '10.91.0.5/24', data: {} });
  });

  it('should not answer a gateway of the old subnet once another node re-created the pool', async () => {
    await goneBehindTheWatch('10.90.0.0/24');
    await b.pools.requestPool(shared('blue', '10.91.0.0/24'));
    await expect(
      a.addresses.requestAddress({ poolId: 'blue', address: '10.90.0.1', options: GATEWAY }),
    ).rejects.toThrow(AddressOutOfRange);
    await expect(a.addresses.requestAddress({ poolId: 'blue', options: GATEWAY })).resolves.toEqual(
      { address: '10.91.0.1/24', data: {} },
    );
  });

  it('should answer PoolNotFound, not a gateway, for a pool another node deleted', async () => {
    await goneBehindTheWatch('10.90.0.0/24');
    await expect(a.addresses.requestAddress({ poolId: 'blue', options: GATEWAY })).rejects.toThrow(
      PoolNotFound,
    );
    await expect(
      a.addresses.requestAddress({ poolId: 'blue', address: '10.90.0.1', options: GATEWAY }),
    ).rejects.toThrow(PoolNotFound);
  });

  it('should not call a re-created pool exhausted because the old one was full', async () => {
    // The old pool: .1 gateway, .2 the only host left, taken by node a.
    await goneBehindTheWatch('10.90.0.0/30');
    // The new one is a /24 (node a's .2 is still listed under the name: the old view is full).
    await b.pools.requestPool(shared('blue', '10.90.0.0/24'));
    const reply = await a.addresses.requestAddress({ poolId: 'blue', options: {} });
    expect(reply.address).toMatch(/^10\.90\.0\.\d+\/24$/);
    expect(['10.90.0.1/24', '10.90.0.2/24']).not.toContain(reply.address);
  });

  it('should still call a full pool exhausted', async () => {
    await a.pools.requestPool(shared('blue', '10.90.0.0/30'));
    await a.addresses.requestAddress({ poolId: 'blue', options: {} });
    await expect(a.addresses.requestAddress({ poolId: 'blue', options: {} })).rejects.toThrow(
      PoolExhausted,
    );
  });
});
