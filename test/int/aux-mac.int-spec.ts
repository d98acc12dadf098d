// Aux addresses and endpoint identity (README, "Addresses"): with RequiresMACAddress dockerd
// sends a container's MAC with its RequestAddress and no options with an --aux-address. Two
// nodes, the real allocators, a real etcd.
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { AddressInUse, PoolExhausted } from '#app/ipam';
import {
  containerOptions,
  type DockerPoolRequest as PoolRequest,
} from '../support/docker-calls.js';
import { startTwoNodes, type IpamNode, type RawEtcd } from './harness.js';

const endpoints = inject('etcdEndpoints');
const NO_OPTIONS = {}; // what dockerd sends for --aux-address ("Options": null parses the same)

const shared = (network: string, pool?: string): PoolRequest => ({
  options: { network },
  v6: false,
  ...(pool ? { pool } : {}),
});

const aux = (node: IpamNode, poolId: string, address: string) =>
  node.addresses.requestAddress({ poolId, address, options: NO_OPTIONS });

describe('aux addresses and MACs on a real etcd', () => {
  let prefix: string;
  let raw: RawEtcd;
  let a: IpamNode;
  let b: IpamNode;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ prefix, raw, a, b, close } = await startTwoNodes('aux-mac', endpoints));
  });

  afterEach(() => close());

  it('should grant the same aux addresses to every node, never hand them out, and drop them with the pool only', async () => {
    await a.pools.requestPool(shared('net', '10.71.0.0/29')); // .1 gateway, .2-.6 hosts
    expect(await aux(a, 'net', '10.71.0.2')).toEqual({ address: '10.71.0.2/29', data: {} });
    expect(await aux(a, 'net', '10.71.0.3')).toEqual({ address: '10.71.0.3/29', data: {} });
    await b.pools.requestPool(shared('net'));
    const before = await raw.state();
    expect(await aux(b, 'net', '10.71.0.2')).toEqual({ address: '10.71.0.2/29', data: {} });
    expect(await aux(b, 'net', '10.71.0.3')).toEqual({ address: '10.71.0.3/29', data: {} });
    expect(await raw.state()).toEqual(before); // granted as held: nothing written
    expect(before['addresses/net/10.71.0.2']).toMatchObject({ node: 'node-a', type: 'aux' });

    // Never dynamic: the three hosts left go to containers, then the pool is full.
    const got = new Set<string>();
    for (const node of [a, b, a]) {
      got.add(
        (await node.addresses.requestAddress({ poolId: 'net', options: containerOptions() }))
          .address,
      );
    }
    expect([...got].sort()).toEqual(['10.71.0.4/29', '10.71.0.5/29', '10.71.0.6/29']);
    await expect(
      b.addresses.requestAddress({ poolId: 'net', options: containerOptions() }),
    ).rejects.toThrow(PoolExhausted);

    // A container may not take an aux address, nor an aux address a container's.
    await expect(
      b.addresses.requestAddress({
        poolId: 'net',
        address: '10.71.0.2',
        options: containerOptions(),
      }),
    ).rejects.toThrow(AddressInUse);
    await expect(aux(b, 'net', '10.71.0.4')).rejects.toThrow(AddressInUse);
    // Nor the gateway an aux address.
    await expect(aux(b, 'net', '10.71.0.1')).rejects.toThrow(AddressInUse);

    // ReleaseAddress of an aux address, from its writer or another node: 200, nothing changes.
    const held = await raw.state();
    await a.addresses.releaseAddress({ poolId: 'net', address: '10.71.0.2' });
    await b.addresses.releaseAddress({ poolId: 'net', address: '10.71.0.3' });
    expect(await raw.state()).toEqual(held);

    // The first node leaves (docker network rm there): the aux addresses stay for the second.
    await a.pools.releasePool('net');
    expect(await raw.keys('addresses/net/')).toContain('addresses/net/10.71.0.2');
    expect(await aux(b, 'net', '10.71.0.2')).toEqual({ address: '10.71.0.2/29', data: {} });
    // The last one leaves: the pool goes, and its aux addresses with it.
    await b.pools.releasePool('net');
    expect(await raw.keys('addresses/net/')).toEqual([]);
  });

  it('should answer a static request repeated for the same node and MAC with the same address, and refuse any other', async () => {
    await a.pools.requestPool(shared('st', '10.71.1.0/24'));
    await b.pools.requestPool(shared('st'));
    const mac = containerOptions();
    const first = await a.addresses.requestAddress({
      poolId: 'st',
      address: '10.71.1.10',
      options: mac,
    });
    const before = await raw.state();
    expect(before['addresses/st/10.71.1.10']).toMatchObject({
      node: 'node-a',
      type: 'endpoint',
      mac: mac['com.docker.network.endpoint.macaddress'],
    });
    // dockerd again, after a lost reply: the same answer, nothing written.
    expect(
      await a.addresses.requestAddress({ poolId: 'st', address: '10.71.1.10', options: mac }),
    ).toEqual(first);
    expect(await raw.state()).toEqual(before);
    // Another MAC on the same node, the same MAC on another node, an aux request: conflicts.
    for (const [node, options] of [
      [a, containerOptions()],
      [b, mac],
      [b, NO_OPTIONS],
    ] as const) {
      await expect(
        node.addresses.requestAddress({ poolId: 'st', address: '10.71.1.10', options }),
      ).rejects.toThrow(AddressInUse);
    }
    expect(await raw.state()).toEqual(before);
  });

  it('should answer a dynamic request repeated for the same MAC with the address it was granted', async () => {
    await a.pools.requestPool(shared('dyn', '10.71.2.0/24'));
    await b.pools.requestPool(shared('dyn'));
    const mac = containerOptions();
    const first = await a.addresses.requestAddress({ poolId: 'dyn', options: mac });
    const before = await raw.state();
    expect(await a.addresses.requestAddress({ poolId: 'dyn', options: mac })).toEqual(first);
    expect(await raw.state()).toEqual(before);
    // The same MAC on another node is another endpoint: another address.
    const other = await b.addresses.requestAddress({ poolId: 'dyn', options: mac });
    expect(other.address).not.toBe(first.address);
    // Once released, the MAC is no longer this address's: the next request is a new grant.
    const ip = first.address.split('/')[0]!;
    await a.addresses.releaseAddress({ poolId: 'dyn', address: ip });
    await b.addresses.requestAddress({ poolId: 'dyn', address: ip, options: containerOptions() });
    const again = await a.addresses.requestAddress({ poolId: 'dyn', options: mac });
    expect(again.address).not.toBe(first.address);
    expect((await raw.state())[`addresses/dyn/${ip}`]).toMatchObject({ node: 'node-b' });
  });

  it('should keep records written before MACs and aux kinds working, and leave a kind it does not know alone', async () => {
    await a.pools.requestPool(shared('old', '10.71.3.0/24'));
    const put = (ip: string, record: object) =>
      raw.client
        .put(`${prefix}/addresses/old/${ip}`)
        .value(JSON.stringify({ address: `${ip}/24`, ...record }));
    await put('10.71.3.10', { node: 'node-a' }); // a container's, before kinds
    await put('10.71.3.11', { node: 'node-a', type: 'endpoint' }); // a container's, before MACs
    await put('10.71.3.12', { node: 'node-a', type: 'vip' }); // a later version's kind
    for (const ip of ['10.71.3.10', '10.71.3.11', '10.71.3.12']) {
      for (const options of [containerOptions(), NO_OPTIONS]) {
        await expect(
          a.addresses.requestAddress({ poolId: 'old', address: ip, options }),
        ).rejects.toThrow(AddressInUse);
      }
    }
    for (const ip of ['10.71.3.10', '10.71.3.11', '10.71.3.12']) {
      await a.addresses.releaseAddress({ poolId: 'old', address: ip });
    }
    expect(await raw.keys('addresses/old/')).toEqual([
      'addresses/old/10.71.3.1',
      'addresses/old/10.71.3.12',
    ]);
  });
});
