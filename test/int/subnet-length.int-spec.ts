// `--ipam-opt subnet-length=N` (README, "Options"): the prefix length of a dynamic pool, per
// network, in place of KONTENA_IPAM_SUBNET_LENGTH (24 here, in the supernet 10.80.0.0/12).
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { InvalidRequest, PoolMismatch } from '#app/ipam';
import type { DockerPoolRequest as PoolRequest } from '../support/docker-calls.js';
import { startTwoNodes, type IpamNode, type RawEtcd } from './harness.js';

const endpoints = inject('etcdEndpoints');

const dynamic = (options: Record<string, string>): PoolRequest => ({ options, v6: false });

describe('subnet-length on a real etcd', () => {
  let raw: RawEtcd;
  let a: IpamNode;
  let b: IpamNode;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ raw, a, b, close } = await startTwoNodes('subnet-length', endpoints));
  });

  afterEach(() => close());

  it('should carve each dynamic pool with its own length, packed after the others', async () => {
    const first = await a.pools.requestPool(dynamic({ network: 'small', 'subnet-length': '26' }));
    const second = await b.pools.requestPool(dynamic({ 'subnet-length': '28' }));
    const third = await a.pools.requestPool(dynamic({}));
    expect([first.pool, second.pool, third.pool]).toEqual([
      '10.80.0.0/26',
      '10.80.0.64/28',
      '10.80.1.0/24',
    ]);
    expect(first.data).toEqual({ 'com.docker.network.gateway': '10.80.0.1/26' });
  });

  it('should join a shared pool asked for with its length or none, and refuse another length naming both', async () => {
    await a.pools.requestPool(dynamic({ network: 'small', 'subnet-length': '26' }));
    expect(
      (await b.pools.requestPool(dynamic({ network: 'small', 'subnet-length': '26' }))).pool,
    ).toBe('10.80.0.0/26');
    expect((await b.pools.requestPool(dynamic({ network: 'small' }))).pool).toBe('10.80.0.0/26');
    const before = await raw.state();
    await expect(
      b.pools.requestPool(dynamic({ network: 'small', 'subnet-length': '25' })),
    ).rejects.toThrow(
      new PoolMismatch(
        'pool small exists with subnet 10.80.0.0/26 (length 26), requested subnet-length 25',
      ),
    );
    expect(await raw.state()).toEqual(before);
  });

  it.each([
    { name: 'longer than /30', options: { 'subnet-length': '31' }, error: /expected 12 to 30/ },
    {
      name: 'shorter than the supernet',
      options: { 'subnet-length': '11' },
      error: /expected 12 to 30/,
    },
    { name: 'not a number', options: { 'subnet-length': '/26' }, error: /is not a prefix length/ },
    {
      name: 'another length than --subnet',
      options: { 'subnet-length': '26' },
      pool: '10.90.0.0/24',
      error: /contradicts Pool 10.90.0.0\/24/,
    },
  ])('should refuse a subnet-length $name and change nothing', async ({ options, pool, error }) => {
    const before = await raw.state();
    const request = { options, v6: false, ...(pool ? { pool } : {}) };
    await expect(a.pools.requestPool(request)).rejects.toThrow(InvalidRequest);
    await expect(a.pools.requestPool(request)).rejects.toThrow(error);
    expect(await raw.state()).toEqual(before);
  });
});
