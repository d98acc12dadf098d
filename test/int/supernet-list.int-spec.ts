// KONTENA_IPAM_SUPERNET as a list (README, "Configuration"): `CIDR[:LENGTH],…`, tried in order;
// an entry without a length takes KONTENA_IPAM_SUBNET_LENGTH. Same for KONTENA_IPAM_SUPERNET6.
import { describe, expect, inject, it } from 'vitest';
import { SupernetExhausted } from '#app/ipam';
import { Prefix } from '#app/net';
import type { DockerPoolRequest } from '../support/docker-calls.js';
import { nodesEachTest } from './harness.js';

const endpoints = inject('etcdEndpoints');

/** Two /24s, then four /26s, then one /24 (the default length): seven pools in all. */
const LIST = {
  KONTENA_IPAM_SUPERNET: '10.200.0.0/23, 172.30.0.0/24:26, 192.168.100.0/24',
  KONTENA_IPAM_SUBNET_LENGTH: '24',
};
const ALL = [
  '10.200.0.0/24',
  '10.200.1.0/24',
  '172.30.0.0/26',
  '172.30.0.64/26',
  '172.30.0.128/26',
  '172.30.0.192/26',
  '192.168.100.0/24',
];

const v6 = (network: string): DockerPoolRequest => ({ options: { network }, v6: true });

const dynamic = (network?: string, options: Record<string, string> = {}): DockerPoolRequest => ({
  options: { ...(network !== undefined && { network }), ...options },
  v6: false,
});

describe('a list of supernets on a real etcd', () => {
  const each = nodesEachTest('supernets', endpoints, LIST);
  const node = (nodeId: string, env?: Record<string, string>) => each.node(nodeId, env);

  it('should carve from the first supernet until it is full, then the next, each with its length, then refuse naming them all', async () => {
    const [a, b] = [await node('node-a'), await node('node-b')];
    const subnets: string[] = [];
    for (let i = 0; i < ALL.length; i++) {
      subnets.push((await (i % 2 ? b : a).pools.requestPool(dynamic(`net${i}`))).pool);
    }
    expect(subnets).toEqual(ALL);

    const before = await each.raw.state();
    const refusal = a.pools.requestPool(dynamic('one-too-many'));
    await expect(refusal).rejects.toThrow(SupernetExhausted);
    await expect(refusal).rejects.toThrow(
      'supernets 10.200.0.0/23, 172.30.0.0/24, 192.168.100.0/24 are exhausted: none has a free subnet of the configured length left',
    );
    expect(await each.raw.state()).toEqual(before);

    // A subnet freed in the first supernet is the first choice again.
    await b.pools.releasePool('net1');
    expect((await a.pools.requestPool(dynamic('again'))).pool).toBe('10.200.1.0/24');
  });

  it('should never hand out one subnet twice when two nodes fill every supernet at once', async () => {
    const [a, b] = [await node('node-a'), await node('node-b')];
    const calls = Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? b : a).pools.requestPool(dynamic(undefined)),
    );
    const results = await Promise.allSettled(calls);
    const granted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.pool] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect([...granted].sort()).toEqual([...ALL].sort());
    expect(refused).toHaveLength(3);
    for (const reason of refused) {
      expect(reason).toBeInstanceOf(SupernetExhausted);
    }
    expect(await each.raw.keys('subnets/')).toHaveLength(ALL.length);
  });

  it('should let subnet-length override every length, passing over a supernet it does not fit', async () => {
    const a = await node('node-a');
    // /23 fits only the first supernet; /25 fits all three (the first has room).
    expect((await a.pools.requestPool(dynamic('wide', { 'subnet-length': '23' }))).pool).toBe(
      '10.200.0.0/23',
    );
    expect((await a.pools.requestPool(dynamic('half', { 'subnet-length': '25' }))).pool).toBe(
      '172.30.0.0/25',
    );
    // The second supernet has a /26 left: its own length is taken when none is asked for.
    expect((await a.pools.requestPool(dynamic('own'))).pool).toBe('172.30.0.128/26');
    await expect(
      a.pools.requestPool(dynamic('too-wide', { 'subnet-length': '22' })),
    ).rejects.toThrow(
      'Options.subnet-length 22 is not a prefix length of a pool in any of the supernets 10.200.0.0/23, 172.30.0.0/24, 192.168.100.0/24: expected 23 to 30',
    );
  });

  it('should keep dynamic pools clear of a static pool inside a later supernet', async () => {
    const a = await node('node-a');
    await a.pools.requestPool({ options: { network: 'static' }, v6: false, pool: '172.30.0.0/25' });
    await a.pools.requestPool(dynamic('first'));
    await a.pools.requestPool(dynamic('second'));
    expect((await a.pools.requestPool(dynamic('third'))).pool).toBe('172.30.0.128/26');
  });

  it('should carve IPv6 pools from a KONTENA_IPAM_SUPERNET6 list in order', async () => {
    const a = await node('node-a', {
      KONTENA_IPAM_SUPERNET6: 'fd00:90::/119:120, fd00:91::/64:112',
    });
    const carved = [];
    for (const name of ['one', 'two', 'three']) {
      carved.push((await a.pools.requestPool(v6(name))).pool);
    }
    expect(carved).toEqual(['fd00:90::/120', 'fd00:90::100/120', 'fd00:91::/112']);
    expect(carved.every((c) => Prefix.parse(c).family === 6)).toBe(true);
  });

  it('should count the subnets and the free ones of each supernet, IPv6 once known', async () => {
    const a = await node('node-a', { ...LIST, KONTENA_IPAM_SUPERNET6: 'fd00:90::/119:120' });
    const usage = async () =>
      (await a.poolAllocator.supernetUsage(a.store.deadline())).map((u) => [
        u.supernet.toString(),
        u.length,
        u.subnets,
        u.free,
      ]);
    await a.pools.requestPool(dynamic('first'));
    // a static pool over part of the second supernet: the /26s it covers are not free
    await a.pools.requestPool({ options: { network: 'st' }, v6: false, pool: '172.30.0.0/25' });
    await a.pools.requestPool(v6('six'));
    expect(await usage()).toEqual([
      ['10.200.0.0/23', 24, 2n, 1n],
      ['172.30.0.0/24', 26, 4n, 2n],
      ['192.168.100.0/24', 24, 1n, 1n],
      ['fd00:90::/119', 120, 2n, 1n],
    ]);
    // another node's pools count too, once the watch brings them: the numbers are the cluster's
    const b = await node('node-b');
    await b.pools.requestPool(dynamic('second'));
    await expect
      .poll(async () => (await usage())[0], { timeout: 5000 })
      .toEqual(['10.200.0.0/23', 24, 2n, 0n]);
  });
});
