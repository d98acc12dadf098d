// `--ipam-opt exclude=CIDR[,CIDR…]` (README, "Options"): addresses never handed out dynamically,
// stored with the pool so that every host honours them. Two nodes, a real etcd.
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { InvalidRequest, PoolExhausted, PoolMismatch } from '#app/ipam';
import {
  containerOptions,
  type DockerPoolRequest as PoolRequest,
} from '../support/docker-calls.js';
import { startTwoNodes, type IpamNode, type RawEtcd } from './harness.js';

const endpoints = inject('etcdEndpoints');

const request = (options: Record<string, string>, pool?: string): PoolRequest => ({
  options,
  v6: false,
  ...(pool ? { pool } : {}),
});

describe('exclude on a real etcd', () => {
  let raw: RawEtcd;
  let a: IpamNode;
  let b: IpamNode;
  let close: () => Promise<void>;

  beforeEach(async () => {
    ({ raw, a, b, close } = await startTwoNodes('exclude', endpoints));
  });

  afterEach(() => close());

  it('should never hand out an excluded address dynamically, on any host', async () => {
    // .1 gateway; .2 and .3 (in .0/30) and .8, .9 excluded: nine addresses for containers.
    await a.pools.requestPool(
      request(
        { network: 'ex', exclude: '10.72.0.8/31, 10.72.0.0/30,10.72.0.8/31' },
        '10.72.0.0/28',
      ),
    );
    expect((await raw.state())['pools/ex']).toMatchObject({
      exclude: ['10.72.0.0/30', '10.72.0.8/31'],
    });
    // The same list in another order, or none, joins it; another list is refused naming both.
    await b.pools.requestPool(request({ network: 'ex', exclude: '10.72.0.8/31,10.72.0.0/30' }));
    await b.pools.requestPool(request({ network: 'ex' }));
    await expect(
      b.pools.requestPool(request({ network: 'ex', exclude: '10.72.0.8/31' })),
    ).rejects.toThrow(
      new PoolMismatch(
        'pool ex exists with exclude 10.72.0.0/30,10.72.0.8/31, requested 10.72.0.8/31',
      ),
    );
    const got: string[] = [];
    for (let i = 0; i < 9; i++) {
      const node = i % 2 === 0 ? a : b;
      got.push(
        (await node.addresses.requestAddress({ poolId: 'ex', options: containerOptions() }))
          .address,
      );
    }
    expect(new Set(got.map((x) => x.split('/')[0]))).toEqual(
      new Set(['4', '5', '6', '7', '10', '11', '12', '13', '14'].map((h) => `10.72.0.${h}`)),
    );
    expect(got).toHaveLength(9);
    for (const node of [a, b]) {
      await expect(
        node.addresses.requestAddress({ poolId: 'ex', options: containerOptions() }),
      ).rejects.toThrow(PoolExhausted);
    }
    // Asked for by name (--ip), an excluded address is had.
    expect(
      (
        await a.addresses.requestAddress({
          poolId: 'ex',
          address: '10.72.0.2',
          options: containerOptions(),
        })
      ).address,
    ).toBe('10.72.0.2/28');
  });

  it.each<{ name: string; options: Record<string, string>; pool?: string; error: RegExp }>([
    { name: 'without --subnet', options: { exclude: '10.80.0.0/30' }, error: /needs --subnet/ },
    {
      name: 'on a new shared pool without --subnet',
      options: { network: 'new', exclude: '10.80.0.0/30' },
      error: /needs --subnet/,
    },
    {
      name: 'outside the subnet',
      options: { exclude: '10.73.1.0/30' },
      pool: '10.73.0.0/24',
      error: /10.73.1.0\/30 is not inside Pool 10.73.0.0\/24/,
    },
    {
      name: 'with host bits',
      options: { exclude: '10.73.0.1/30' },
      pool: '10.73.0.0/24',
      error: /"10.73.0.1\/30" is not an IPv4 prefix/,
    },
    {
      name: 'of more than a /16',
      options: { exclude: '10.0.0.0/15' },
      pool: '10.0.0.0/8',
      error: /excludes 131072 addresses: at most 65536/,
    },
  ])('should refuse an exclude $name and change nothing', async ({ options, pool, error }) => {
    const before = await raw.state();
    await expect(a.pools.requestPool(request(options, pool))).rejects.toThrow(InvalidRequest);
    await expect(a.pools.requestPool(request(options, pool))).rejects.toThrow(error);
    expect(await raw.state()).toEqual(before);
  });
});
