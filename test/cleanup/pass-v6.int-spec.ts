import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { RawEtcd, startNode, type IpamNode } from '../int/harness.js';
import { uniquePrefix } from '../support/prefix.js';
import { dockerNetwork, FakeDocker, startCleanup, type CleanupRunner } from './harness.js';

const endpoints = inject('etcdEndpoints');

/**
 * The cleanup pass over a dual-stack network (README, "IPv6 and dual stack"): the network's IPv6
 * entry is the pool NAME:v6, its containers' IPv6 addresses are kept, orphans are freed, and a
 * network removed takes both pools with it.
 */
describe('the cleanup pass and IPv6 pools on a real etcd', () => {
  let prefix: string;
  let raw: RawEtcd;
  let a: IpamNode;
  let docker: FakeDocker;
  let cleanup: CleanupRunner;

  beforeEach(async () => {
    prefix = uniquePrefix('cleanup-v6');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    docker = new FakeDocker();
    cleanup = await startCleanup({ nodeId: 'node-a', endpoints, prefix, docker });
  });

  afterEach(async () => {
    await cleanup.close();
    await a.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const take = async (poolId: string): Promise<string> =>
    (await a.addresses.requestAddress({ poolId, options: {} })).address.split('/')[0]!;

  it('should keep the IPv6 addresses Docker lists, free the orphans, and drop both pools with the network', async () => {
    await a.pools.requestPool({ options: { network: 'dual' }, v6: false, pool: '10.86.0.0/24' });
    await a.pools.requestPool({ options: { network: 'dual' }, v6: true, pool: 'fd00:86::/64' });
    const v4 = await take('dual');
    const v6 = await take('dual:v6');
    const orphan = await take('dual:v6');
    docker.networks = [
      dockerNetwork('dual', {
        poolOption: 'dual',
        configs: [
          { subnet: '10.86.0.0/24', gateway: '10.86.0.1', auxAddresses: [] },
          { subnet: 'fd00:86::/64', gateway: 'fd00:86::1', auxAddresses: [] },
        ],
        endpoints: [{ name: 'c1', ipv4: v4, ipv6: v6 }],
      }),
    ];

    const report = await cleanup.run({ quiesceSeconds: 0 });
    expect(report.ok).toBe(true);
    expect(report.pools.find((p) => p.pool === 'dual:v6')).toMatchObject({
      freed: 1,
      reasons: { container: 1, 'docker-gateway': 1, orphan: 1 },
      membership: { node: 'node-a', result: 'kept', refs: 1, reason: 'in-use' },
    });
    expect(await raw.keys('addresses/dual:v6/')).toEqual(
      [`addresses/dual:v6/fd00:86::1`, `addresses/dual:v6/${v6}`].sort(),
    );
    expect(orphan).not.toBe(v6);

    // The network is gone from Docker: both memberships and both pools go.
    docker.networks = [];
    const after = await cleanup.run({ quiesceSeconds: 0 });
    expect(after.ok).toBe(true);
    expect(
      (await raw.keys()).filter((k) => !k.startsWith('nodes/') && !k.startsWith('cleanup-passes/')),
    ).toEqual([]);
  });
});
