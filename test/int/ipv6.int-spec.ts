import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { AddressInUse, InvalidRequest, SubnetConflict } from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import { subnetKeyName } from '#app/store';
import type { DockerPoolRequest } from '../support/docker-calls.js';
import { uniquePrefix } from '../support/prefix.js';
import { nodesEachTest, RawEtcd, startNode, type IpamNode } from './harness.js';
import { containerOptions } from '../support/docker-calls.js';

const endpoints = inject('etcdEndpoints');
const GW = 'com.docker.network.gateway';

const pool = (network: string, extra: Partial<DockerPoolRequest> = {}): DockerPoolRequest => ({
  options: { network },
  v6: false,
  ...extra,
});
const v6 = (network: string, extra: Partial<DockerPoolRequest> = {}): DockerPoolRequest =>
  pool(network, { v6: true, ...extra });

/** The address of `<ip>/<len>` as a number. */
const valueOf = (reply: string): bigint => Addr.parse(reply.split('/')[0]!).value;

/** The value stored under `supernet6`, if any. */
async function storedSupernet6(raw: RawEtcd): Promise<string | undefined> {
  const value = await raw.client.get(`${raw.prefix}/supernet6`).string();
  return value === null ? undefined : (JSON.parse(value) as { supernet: string }).supernet;
}

describe('IPv6 and dual-stack pools on a real etcd', () => {
  const each = nodesEachTest('ipv6', endpoints);
  const node = (nodeId: string, env?: Record<string, string>) => each.node(nodeId, env);

  it('should share a dual-stack network by name between two nodes, and delete both with the last release', async () => {
    const [a, b] = [await node('node-a'), await node('node-b')];
    const a4 = await a.pools.requestPool(pool('dual'));
    const a6 = await a.pools.requestPool(v6('dual'));
    const b4 = await b.pools.requestPool(pool('dual'));
    const b6 = await b.pools.requestPool(v6('dual'));
    expect(a4).toEqual(b4);
    expect(a6).toEqual(b6);
    expect(a4.poolId).toBe('dual');
    expect(a6.poolId).toBe('dual:v6');
    const subnet = Prefix.parse(a6.pool);
    expect(subnet.family).toBe(6);
    expect(subnet.length).toBe(64);
    expect(a6.data[GW]).toBe(`${subnet.network().toString().replace(/::$/, '')}::1/64`);
    const supernet = Prefix.parse((await storedSupernet6(each.raw))!);
    expect(supernet.length).toBe(48);
    expect(supernet.toString()).toMatch(/^fd/);
    expect(subnet.network().equals(supernet.network())).toBe(true); // the /48's first /64

    const keys = await each.raw.keys();
    expect(keys).toContain(`subnets/${subnetKeyName(subnet)}`);
    expect(subnetKeyName(subnet)).toMatch(/^[0-9a-f]{32}$/);
    expect(keys).toContain(`addresses/dual:v6/${subnet.network().add(1n)!.toString()}`);
    expect(keys).toContain('pool-nodes/dual:v6/node-a');
    expect(keys).toContain('pool-nodes/dual:v6/node-b');

    // Containers on both nodes get addresses of both families, none twice.
    const got = new Set<string>();
    for (const n of [a, b]) {
      for (const id of ['dual', 'dual:v6']) {
        for (let i = 0; i < 5; i++) {
          got.add((await n.addresses.requestAddress({ poolId: id, options: {} })).address);
        }
      }
    }
    expect(got.size).toBe(20);

    for (const n of [a, b]) {
      await n.pools.releasePool('dual');
      await n.pools.releasePool('dual:v6');
    }
    expect((await each.raw.keys()).filter((k) => k !== 'supernet6')).toEqual([]);
  });

  it('should choose one ULA /48 for the cluster when two nodes ask at the same instant', async () => {
    const [a, b] = [await node('node-a'), await node('node-b')];
    expect(await storedSupernet6(each.raw)).toBeUndefined(); // start-up wrote nothing
    const replies = await Promise.all([
      a.pools.requestPool(v6('one')),
      b.pools.requestPool(v6('two')),
      a.pools.requestPool(v6('three')),
      b.pools.requestPool(v6('four')),
    ]);
    const supernet = Prefix.parse((await storedSupernet6(each.raw))!);
    const subnets = replies.map((r) => Prefix.parse(r.pool));
    for (const s of subnets) {
      expect(supernet.containsPrefix(s)).toBe(true);
    }
    // The /48's first four /64s, one each.
    const firsts = [0n, 1n, 2n, 3n].map((i) =>
      Prefix.of(supernet.network().add(i << 64n)!, 64).toString(),
    );
    expect(subnets.map((s) => s.toString()).sort()).toEqual(firsts.sort());
    // A third node, started later, carves from the same /48.
    const c = await node('node-c');
    expect(
      supernet.containsPrefix(Prefix.parse((await c.pools.requestPool(v6('five'))).pool)),
    ).toBe(true);
  });

  it('should carve from KONTENA_IPAM_SUPERNET6 on a node that sets it', async () => {
    const a = await node('node-a', {
      KONTENA_IPAM_SUPERNET6: 'fd00:77::/56',
      KONTENA_IPAM_SUBNET6_LENGTH: '112',
    });
    expect((await a.pools.requestPool(v6('own'))).pool).toBe('fd00:77::/112');
    expect((await a.pools.requestPool(v6('own2'))).pool).toBe('fd00:77::1:0/112');
    expect(await storedSupernet6(each.raw)).toBeUndefined();
  });

  it('should carve each dual-stack pool with its subnet6-length, and refuse a shared one asked with another', async () => {
    const [a, b] = [
      await node('node-a', { KONTENA_IPAM_SUPERNET6: 'fd00:78::/56' }),
      await node('node-b', { KONTENA_IPAM_SUPERNET6: 'fd00:78::/56' }),
    ];
    // dockerd sends a dual-stack network's options with both requests: each takes its own.
    const options = { network: 'sized', 'subnet-length': '26', 'subnet6-length': '80' };
    expect((await a.pools.requestPool({ options, v6: false })).pool).toBe('10.80.0.0/26');
    expect((await a.pools.requestPool({ options, v6: true })).pool).toBe('fd00:78::/80');
    expect((await b.pools.requestPool({ options, v6: true })).pool).toBe('fd00:78::/80');
    expect((await b.pools.requestPool(v6('sized'))).pool).toBe('fd00:78::/80');
    expect((await b.pools.requestPool(v6('default'))).pool).toBe('fd00:78:0:1::/64');
    const before = await each.raw.state();
    await expect(
      b.pools.requestPool(v6('sized', { options: { network: 'sized', 'subnet6-length': '96' } })),
    ).rejects.toThrow(
      'pool sized:v6 exists with subnet fd00:78::/80 (length 80), requested subnet6-length 96',
    );
    expect(await each.raw.state()).toEqual(before);
  });

  it.each([
    { name: 'shorter than the supernet', length: '55', error: /expected 56 to 120/ },
    { name: 'longer than /120', length: '121', error: /expected 56 to 120/ },
    { name: 'not a number', length: '64/', error: /is not a prefix length/ },
    {
      name: 'another length than the IPv6 --subnet',
      length: '80',
      subnet: 'fd00:9::/64',
      error: /contradicts Pool fd00:9::\/64/,
    },
  ])(
    'should refuse a subnet6-length $name and change nothing',
    async ({ length, subnet, error }) => {
      const a = await node('node-a', { KONTENA_IPAM_SUPERNET6: 'fd00:78::/56' });
      const before = await each.raw.state();
      const request = v6('bad', {
        options: { 'subnet6-length': length },
        ...(subnet ? { pool: subnet } : {}),
      });
      await expect(a.pools.requestPool(request)).rejects.toThrow(InvalidRequest);
      await expect(a.pools.requestPool(request)).rejects.toThrow(error);
      expect(await each.raw.state()).toEqual(before);
    },
  );

  it('should refuse overlapping static IPv6 pools, never an IPv4 one beside them', async () => {
    const [a, b] = [await node('node-a'), await node('node-b')];
    await a.pools.requestPool(v6('s1', { pool: 'fd00:1::/64' }));
    const before = await each.raw.dump();
    for (const overlapping of ['fd00:1::/48', 'fd00:1::8000:0/112', 'fd00:1::/64']) {
      const err = await b.pools
        .requestPool(v6('s2', { pool: overlapping }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SubnetConflict);
      expect((err as Error).message).toBe(
        `${overlapping} conflict: Conflict with network fd00:1::/64 of pool s1:v6; choose another --subnet`,
      );
    }
    expect(await each.raw.dump()).toEqual(before);
    expect((await b.pools.requestPool(v6('s3', { pool: 'fd00:2::/64' }))).pool).toBe('fd00:2::/64');
    expect((await b.pools.requestPool(pool('s4', { pool: '10.77.0.0/24' }))).pool).toBe(
      '10.77.0.0/24',
    );
    expect(await storedSupernet6(each.raw)).toBeUndefined(); // static pools never need it
  });

  it('should reserve static IPv6 addresses once, the last one included, never ::0', async () => {
    const a = await node('node-a');
    await a.pools.requestPool(v6('st', { pool: 'fd00:3::/64', subPool: 'fd00:3::/112' }));
    const ask = (address: string) =>
      a.addresses.requestAddress({ poolId: 'st:v6', address, options: containerOptions() });
    expect((await ask('fd00:3::10')).address).toBe('fd00:3::10/64');
    await expect(ask('fd00:3:0:0:0:0:0:10')).rejects.toBeInstanceOf(AddressInUse);
    expect((await ask('fd00:3::ffff:ffff:ffff:ffff')).address).toBe(
      'fd00:3::ffff:ffff:ffff:ffff/64',
    );
    await expect(ask('fd00:3::')).rejects.toThrow(
      "address fd00:3:: is the subnet-router anycast address of pool st:v6's subnet fd00:3::/64",
    );
    await expect(ask('10.0.0.5')).rejects.toThrow('is outside pool st:v6');
    // The gateway, as a second node's dockerd asks for it.
    expect(
      (
        await a.addresses.requestAddress({
          poolId: 'st:v6',
          address: 'fd00:3::1',
          options: { RequestAddressType: GW },
        })
      ).address,
    ).toBe('fd00:3::1/64');
    // Dynamic ones come from the SubPool (a bitmap: a /112), never ::0 or the gateway.
    const dynamic = await a.addresses.requestAddress({ poolId: 'st:v6', options: {} });
    expect(Prefix.parse('fd00:3::/112').contains(Addr.parse(dynamic.address.split('/')[0]!))).toBe(
      true,
    );
    expect(['fd00:3::/64', 'fd00:3::1/64', 'fd00:3::10/64']).not.toContain(dynamic.address);
    await a.addresses.releaseAddress({ poolId: 'st:v6', address: 'fd00:3::10' });
    expect(await each.raw.keys('addresses/st:v6/fd00:3::10')).toEqual([]);
  });

  it('should refuse a V6 mismatch with a 400 and write nothing', async () => {
    const a = await node('node-a');
    await expect(a.pools.requestPool(v6('m', { pool: '10.9.0.0/24' }))).rejects.toBeInstanceOf(
      InvalidRequest,
    );
    await expect(a.pools.requestPool(pool('m', { pool: 'fd00:9::/64' }))).rejects.toThrow(
      'Pool fd00:9::/64 is IPv6, but V6 is false',
    );
    expect(await each.raw.keys()).toEqual([]);
  });

  it('should resume a node after its own addresses, compact, after a restart', async () => {
    let a = await node('node-a');
    await a.pools.requestPool(v6('r', { pool: 'fd00:4::/64' }));
    const first: string[] = [];
    for (let i = 0; i < 40; i++) {
      first.push((await a.addresses.requestAddress({ poolId: 'r:v6', options: {} })).address);
    }
    await each.stop(a);
    a = await node('node-a');
    const next = (await a.addresses.requestAddress({ poolId: 'r:v6', options: {} })).address;
    expect(valueOf(next)).toBe(valueOf(first.at(-1)!) + 1n);
  });

  it('should make 20,000 distinct allocations in one /64 at concurrency 16 from two nodes, RSS growth under 100 MB', async () => {
    const [a, b] = [await node('node-a'), await node('node-b')];
    await a.pools.requestPool(v6('big', { pool: 'fd00:5::/64' }));
    await b.pools.requestPool(v6('big', { pool: 'fd00:5::/64' }));
    const rss0 = process.memoryUsage().rss;
    const got: string[] = [];
    let next = 0;
    const worker = async (n: IpamNode): Promise<void> => {
      while (next < 20_000) {
        next++;
        got.push((await n.addresses.requestAddress({ poolId: 'big:v6', options: {} })).address);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i % 2 === 0 ? a : b)));
    const seconds = (performance.now() - started) / 1000;
    const growthMB = (process.memoryUsage().rss - rss0) / 1e6;
    expect(got).toHaveLength(20_000);
    expect(new Set(got).size).toBe(20_000);
    expect((await each.raw.keys('addresses/big:v6/')).length).toBe(20_001); // and the gateway
    expect(growthMB).toBeLessThan(100);
    console.log(
      `20,000 IPv6 allocations at c=16: ${Math.round(20_000 / seconds)}/s, RSS growth ${growthMB.toFixed(1)} MB`,
    );
  }, 180_000);
});

/**
 * createPool's fence for IPv6 keys (32 hex digits): an overlapping subnet written after the read
 * fails the create, a subnet elsewhere does not.
 */
describe('the IPv6 subnet fence on a real etcd', () => {
  let prefix: string;
  let raw: RawEtcd;
  let a: IpamNode;

  beforeEach(async () => {
    prefix = uniquePrefix('fence6');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
  });

  afterEach(async () => {
    await a.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  /** createPool of `subnet` with a read taken before `written` appeared in `subnets/`. */
  const createAfter = async (subnet: string, written: string) => {
    const read = await raw.revision();
    await raw.client
      .put(`${prefix}/subnets/${subnetKeyName(Prefix.parse(written))}`)
      .value(JSON.stringify({ address: written, pool: 'other', req: 'other' }));
    const before = await raw.dump();
    const p = Prefix.parse(subnet);
    const gateway = p.network().add(1n)!.toString();
    const result = await a.store.createPool(
      {
        id: 'mine:v6',
        record: { subnet, gateway: `${gateway}/${p.length}` },
        network: subnetKeyName(p),
        gatewayIp: gateway,
        node: 'node-a',
      },
      read,
      'nonce-1',
      a.store.deadline(),
    );
    return { result, before, after: await raw.dump() };
  };

  it.each([
    { subnet: 'fd00:7:0:3::/64', written: 'fd00:7:0:3::8000:0/112', why: 'inside it' },
    { subnet: 'fd00:7:0:3::/64', written: 'fd00:7:0:3::/120', why: 'inside it, same network' },
    { subnet: 'fd00:7:0:3::/64', written: 'fd00:7::/62', why: 'around it' },
    { subnet: 'fd00:7:0:3::/64', written: 'fd00:7::/48', why: 'around it, a /48' },
    { subnet: 'fd00:7::/48', written: 'fd00:7:0:ff00::/56', why: 'inside a /48' },
  ])('should refuse $subnet when $written ($why) was written after the read', async (row) => {
    const { result, before, after } = await createAfter(row.subnet, row.written);
    expect(result.kind).toBe('subnets-changed');
    expect(after).toEqual(before);
  });

  it.each([
    { subnet: 'fd00:7:0:3::/64', written: 'fd00:7:0:4::/64', why: 'the next /64' },
    { subnet: 'fd00:7:0:3::/64', written: 'fd00:8::/48', why: 'another /48' },
    { subnet: 'fd00:7:0:3::/64', written: '10.80.0.0/24', why: 'an IPv4 subnet' },
  ])('should create $subnet though $written ($why) was written after the read', async (row) => {
    const { result } = await createAfter(row.subnet, row.written);
    expect(result.kind).toBe('created');
  });
});
