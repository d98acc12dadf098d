import type { Etcd3 } from 'etcd3';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';

import { MAX_DELETE_BATCH, newNonce, type NodeMember } from '#app/store';

import { containerOptions } from '../support/docker-calls.js';
import { uniquePrefix } from '../support/prefix.js';
import { RawEtcd, startNode, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');

/** CleanupStore: reads with revisions and mod-revision-guarded writes. */
describe('CleanupStore on a real etcd', () => {
  let prefix: string;
  let a: IpamNode;
  let b: IpamNode;
  let raw: RawEtcd;
  const deadline = (): number => a.cleanup.deadline();

  beforeEach(async () => {
    prefix = uniquePrefix('cleanup-store');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    b = await startNode({ nodeId: 'node-b', endpoints, prefix });
  });

  afterEach(async () => {
    await a.close();
    await b.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const member = async (poolId: string, node: string): Promise<NodeMember> => {
    const { members } = await a.cleanup.listMembers(poolId, deadline());
    const found = members.find((m) => m.node === node);
    if (!found) {
      throw new Error(`no membership of ${node} in ${poolId}`);
    }
    return found;
  };

  it('currentRevision should answer the store revision, which every write raises', async () => {
    const first = BigInt(await a.cleanup.currentRevision(deadline()));
    expect(first).toBe(BigInt(await raw.revision()));
    await raw.client.put(`${prefix}/x`).value('{}');
    expect(BigInt(await a.cleanup.currentRevision(deadline()))).toBe(first + 1n);
  });

  it('listPools should list every pool with its create revision, and nothing else', async () => {
    expect((await a.cleanup.listPools(deadline())).pools).toEqual([]);
    const blue = await a.pools.requestPool({ options: { network: 'blue' }, v6: false });
    const local = await b.pools.requestPool({ options: {}, v6: false });
    const { pools, revision } = await a.cleanup.listPools(deadline());
    expect(new Map(pools.map((p) => [p.id, p.record.subnet]))).toEqual(
      new Map([
        ['blue', blue.pool],
        [local.poolId, local.pool],
      ]),
    );
    for (const p of pools) {
      expect(p).toEqual(await a.store.getPool(p.id, deadline()));
      expect(BigInt(p.createRevision)).toBeLessThanOrEqual(BigInt(revision));
    }
  });

  it('listAddresses should list one pool with records and revisions, not a pool named like it', async () => {
    await a.pools.requestPool({ options: { network: 'p' }, pool: '10.91.0.0/24', v6: false });
    await b.pools.requestPool({ options: { network: 'p2' }, pool: '10.91.1.0/24', v6: false });
    const mine = await a.addresses.requestAddress({
      poolId: 'p',
      address: '10.91.0.7',
      options: containerOptions(),
    });
    await b.addresses.requestAddress({ poolId: 'p2', options: {} });
    const { addresses, revision } = await a.cleanup.listAddresses('p', deadline());
    expect(mine.address).toBe('10.91.0.7/24');
    expect(addresses.map((x) => [x.ip, x.record.node, x.record.type])).toEqual([
      ['10.91.0.1', 'node-a', 'gateway'],
      ['10.91.0.7', 'node-a', 'endpoint'],
    ]);
    const dump = await raw.client.get(`${prefix}/addresses/p/10.91.0.7`).exec();
    expect(addresses[1]).toMatchObject({
      createRevision: dump.kvs[0]!.create_revision,
      modRevision: dump.kvs[0]!.mod_revision,
    });
    expect(BigInt(addresses[1]!.modRevision)).toBeLessThanOrEqual(BigInt(revision));
    expect((await a.cleanup.listAddresses('nope', deadline())).addresses).toEqual([]);
  });

  it('listMembers should list every node of a pool with its references', async () => {
    await a.pools.requestPool({ options: { network: 'm' }, v6: false });
    await a.pools.requestPool({ options: { network: 'm' }, v6: false });
    await b.pools.requestPool({ options: { network: 'm' }, v6: false });
    await b.pools.requestPool({ options: { network: 'm2' }, v6: false });
    const { members } = await a.cleanup.listMembers('m', deadline());
    expect(members.map((m) => [m.node, m.record.refs])).toEqual([
      ['node-a', 2],
      ['node-b', 1],
    ]);
    expect(members.every((m) => BigInt(m.modRevision) > 0n)).toBe(true);
  });

  describe('deleteMemberIfUnchanged', () => {
    it('should delete the membership as read, and only it', async () => {
      await a.pools.requestPool({ options: { network: 'd' }, v6: false });
      await b.pools.requestPool({ options: { network: 'd' }, v6: false });
      const read = await member('d', 'node-a');
      expect(await a.cleanup.deleteMemberIfUnchanged('d', read, deadline())).toBe('deleted');
      expect(await raw.keys('pool-nodes/')).toEqual(['pool-nodes/d/node-b']);
      // A retried delete finds it gone: the same outcome.
      expect(await a.cleanup.deleteMemberIfUnchanged('d', read, deadline())).toBe('deleted');
    });

    it('should not delete a membership changed since it was read (a join meanwhile)', async () => {
      await a.pools.requestPool({ options: { network: 'j' }, v6: false });
      const read = await member('j', 'node-a');
      await a.pools.requestPool({ options: { network: 'j' }, v6: false });
      expect(await a.cleanup.deleteMemberIfUnchanged('j', read, deadline())).toBe('changed');
      expect((await raw.dump())['pool-nodes/j/node-a']).toMatchObject({ refs: 2 });
    });

    it('should not delete a membership released and taken again since it was read', async () => {
      await a.pools.requestPool({ options: { network: 'r' }, v6: false });
      await b.pools.requestPool({ options: { network: 'r' }, v6: false });
      const read = await member('r', 'node-a');
      await a.pools.releasePool('r');
      await a.pools.requestPool({ options: { network: 'r' }, v6: false });
      expect(await a.cleanup.deleteMemberIfUnchanged('r', read, deadline())).toBe('changed');
      expect(await raw.keys('pool-nodes/r/')).toEqual([
        'pool-nodes/r/node-a',
        'pool-nodes/r/node-b',
      ]);
    });
  });

  describe('setMemberRefs', () => {
    it('should set the references of the membership as read', async () => {
      for (let i = 0; i < 3; i++) {
        await a.pools.requestPool({ options: { network: 's' }, v6: false });
      }
      const read = await member('s', 'node-a');
      expect(read.record.refs).toBe(3);
      const nonce = newNonce();
      expect(await a.cleanup.setMemberRefs('s', read, 1, nonce, deadline())).toBe('set');
      expect((await raw.dump())['pool-nodes/s/node-a']).toMatchObject({ refs: 1, req: nonce });
      // The same write again (a retry after a lost reply) recognises itself by its nonce.
      expect(await a.cleanup.setMemberRefs('s', read, 1, nonce, deadline())).toBe('set');
      // A plugin release afterwards sees one reference: the last one leaves the pool.
      await a.pools.releasePool('s');
      expect(await raw.dump()).toEqual({});
    });

    it('should not set a membership changed since it was read', async () => {
      await a.pools.requestPool({ options: { network: 'c' }, v6: false });
      const read = await member('c', 'node-a');
      await a.pools.requestPool({ options: { network: 'c' }, v6: false });
      expect(await a.cleanup.setMemberRefs('c', read, 5, newNonce(), deadline())).toBe('changed');
      expect((await raw.dump())['pool-nodes/c/node-a']).toMatchObject({ refs: 2 });
    });

    it('should not re-create a membership deleted since it was read', async () => {
      await a.pools.requestPool({ options: { network: 'g' }, v6: false });
      await b.pools.requestPool({ options: { network: 'g' }, v6: false });
      const read = await member('g', 'node-a');
      await a.pools.releasePool('g');
      expect(await a.cleanup.setMemberRefs('g', read, 2, newNonce(), deadline())).toBe('changed');
      expect(await raw.keys('pool-nodes/')).toEqual(['pool-nodes/g/node-b']);
    });
  });

  it('deleteAddressesIfUnchanged should free addresses as read, never one taken again since', async () => {
    await a.pools.requestPool({ options: { network: 't' }, pool: '10.92.0.0/24', v6: false });
    for (const ip of ['10.92.0.5', '10.92.0.6', '10.92.0.7', '10.92.0.8']) {
      await a.addresses.requestAddress({ poolId: 't', address: ip, options: containerOptions() });
    }
    const read = (await a.cleanup.listAddresses('t', deadline())).addresses;
    const at = (ip: string) => read.find((x) => x.ip === ip)!;
    // .6 released and taken again by another node; .7 released (gone).
    await a.addresses.releaseAddress({ poolId: 't', address: '10.92.0.6' });
    await b.addresses.requestAddress({
      poolId: 't',
      address: '10.92.0.6',
      options: containerOptions(),
    });
    await a.addresses.releaseAddress({ poolId: 't', address: '10.92.0.7' });
    // One transaction: each address is deleted or kept on its own.
    expect(
      await a.cleanup.deleteAddressesIfUnchanged(
        't',
        ['10.92.0.5', '10.92.0.6', '10.92.0.7', '10.92.0.8'].map(at),
        deadline(),
      ),
    ).toEqual(['deleted', 'changed', 'deleted', 'deleted']);
    expect(await raw.keys('addresses/t/')).toEqual([
      'addresses/t/10.92.0.1',
      'addresses/t/10.92.0.6',
    ]);
    expect((await raw.dump())['addresses/t/10.92.0.6']).toMatchObject({ node: 'node-b' });
    expect(await a.cleanup.deleteAddressesIfUnchanged('t', [], deadline())).toEqual([]);
  });

  it('deleteAddressesIfUnchanged should take a full batch and refuse a larger one unchanged', async () => {
    await a.pools.requestPool({ options: { network: 'u' }, pool: '10.93.0.0/24', v6: false });
    await Promise.all(
      Array.from({ length: MAX_DELETE_BATCH + 1 }, () =>
        a.addresses.requestAddress({ poolId: 'u', options: {} }),
      ),
    );
    const read = (await a.cleanup.listAddresses('u', deadline())).addresses.filter(
      (x) => x.record.type !== 'gateway',
    );
    expect(read).toHaveLength(MAX_DELETE_BATCH + 1);
    await expect(a.cleanup.deleteAddressesIfUnchanged('u', read, deadline())).rejects.toThrow(
      /at most/,
    );
    expect(await raw.keys('addresses/u/')).toHaveLength(MAX_DELETE_BATCH + 2);
    const results = await a.cleanup.deleteAddressesIfUnchanged(
      'u',
      read.slice(0, MAX_DELETE_BATCH),
      deadline(),
    );
    expect(results.every((r) => r === 'deleted')).toBe(true);
    expect(await raw.keys('addresses/u/')).toHaveLength(2);
  });

  it('deletePoolIfUnused should delete a pool without members with its subnet and addresses', async () => {
    await a.pools.requestPool({ options: { network: 'u' }, pool: '10.93.0.0/24', v6: false });
    await b.pools.requestPool({ options: { network: 'u' }, v6: false });
    await b.addresses.requestAddress({ poolId: 'u', options: {} });
    const pool = (await a.store.getPool('u', deadline()))!;
    expect(await a.cleanup.deletePoolIfUnused(pool, '10.93.0.0', deadline())).toBe(false);
    // An interrupted deletion: every membership is gone, the pool is still there.
    await raw.client.delete().prefix(`${prefix}/pool-nodes/`);
    expect(await a.cleanup.deletePoolIfUnused(pool, '10.93.0.0', deadline())).toBe(true);
    expect(await raw.dump()).toEqual({});
  });

  it('snapshot should read every key under the prefix at one revision, in pages', async () => {
    await a.pools.requestPool({ options: { network: 'v' }, pool: '10.94.0.0/24', v6: false });
    await b.pools.requestPool({ options: { network: 'v' }, v6: false });
    await b.addresses.requestAddress({ poolId: 'v', options: {} });
    await a.pools.requestPool({ options: {}, v6: false });
    const before = await raw.dump();
    const revision = await raw.revision();
    // A write between two pages must not show: every page reads at the first page's revision.
    // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- the store's own client
    const kv = (a.connection as unknown as { client: Etcd3 }).client.kv;
    const range = kv.range.bind(kv);
    let pages = 0;
    const spy = vi.spyOn(kv, 'range').mockImplementation(async (...args) => {
      const res = await range(...args);
      if (++pages === 1) {
        await raw.client.put(`${prefix}/addresses/v/10.94.0.99`).value('{}');
      }
      return res;
    });
    try {
      const snap = await a.cleanup.snapshot(deadline(), 2);
      expect(pages).toBeGreaterThan(3);
      expect(snap.revision).toBe(revision);
      expect(
        Object.fromEntries(snap.entries.map((e) => [e.key, JSON.parse(e.value) as unknown])),
      ).toEqual(before);
    } finally {
      spy.mockRestore();
    }
    expect((await a.cleanup.snapshot(deadline())).entries.map((e) => e.key)).toContain(
      'addresses/v/10.94.0.99',
    );
  });
});
