import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { ipamConfig, type IpamConfig } from '#app/config';
import { REQUEST_ADDRESS_TYPE_OPTION, GATEWAY_ADDRESS_TYPE } from '#app/ipam';

import { DOCKER_NETWORKS } from '../../apps/cleanup/src/docker/docker-networks.js';
import {
  renderRepairText,
  repair,
  repairModule,
  type RepairReport,
} from '../../apps/ctl/src/repair/run-repair.js';
import { dockerNetwork, FakeDocker } from '../cleanup/harness.js';
import { RawEtcd, startNode, withoutNonces, type IpamNode } from '../int/harness.js';
import { uniquePrefix } from '../support/prefix.js';
import { containerOptions } from '../support/docker-calls.js';

const endpoints = inject('etcdEndpoints');
/** The address of a RequestAddress reply (`ip/len`). */
const ip = (reply: string): string => reply.split('/')[0] ?? '';

/** The keys of both pools of the dual-stack network `dual`, without nonces. */
function dualKeys(state: Record<string, unknown>): Record<string, unknown> {
  return withoutNonces(
    Object.fromEntries(Object.entries(state).filter(([k]) => k.includes('dual'))),
  );
}

/** RequestPool of one side of the dual-stack network `dual`. */
const dual = (v6: boolean) => ({
  options: { network: 'dual' },
  pool: v6 ? 'fd00:81::/64' : '10.84.0.0/24',
  v6,
});

/** The keys of pool blue, without nonces. */
function blueKeys(state: Record<string, unknown>): Record<string, unknown> {
  return withoutNonces(
    Object.fromEntries(Object.entries(state).filter(([k]) => k.includes('blue'))),
  );
}

/**
 * `kontena-ipam-ctl repair` (issue #19) on a real etcd: what the plugin wrote for one host is
 * lost (a snapshot restore, a mistaken --forget-node), and repair registers it again from what
 * that host's Docker shows (given by the test; test/ctl/repair.e2e-spec.ts asks a real dockerd).
 */
describe('kontena-ipam-ctl repair', () => {
  let prefix: string;
  let raw: RawEtcd;
  let a: IpamNode;
  let b: IpamNode;
  let docker: FakeDocker;
  let moduleRef: TestingModule;
  let config: IpamConfig;

  beforeEach(async () => {
    prefix = uniquePrefix('repair');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    b = await startNode({ nodeId: 'node-b', endpoints, prefix });
    docker = new FakeDocker();
    moduleRef = await Test.createTestingModule({
      imports: [
        repairModule({
          NODE_ID: 'node-a',
          ETCD_ENDPOINT: endpoints.join(','),
          ETCD_PREFIX: prefix,
          ETCD_WAIT_TIMEOUT: '10',
        }),
      ],
    })
      .overrideProvider(DOCKER_NETWORKS)
      .useValue(docker)
      .compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    config = moduleRef.get<IpamConfig>(ipamConfig.KEY);
  });

  afterEach(async () => {
    await moduleRef.close();
    await a.close();
    await b.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  /** Node a's Docker: two networks on pool blue, one on a private pool; the plugin's writes. */
  async function hostWithNetworks(): Promise<string> {
    await a.pools.requestPool({
      options: { network: 'blue' },
      pool: '10.81.0.0/24',
      subPool: '10.81.0.128/25',
      v6: false,
    });
    await a.pools.requestPool({ options: { network: 'blue' }, v6: false });
    const web = { 'com.docker.network.endpoint.name': 'web-1' };
    await a.addresses.requestAddress({ poolId: 'blue', address: '10.81.0.130', options: web });
    await a.addresses.requestAddress({
      poolId: 'blue',
      address: '10.81.0.20',
      options: {}, // an --aux-address: the network's
    });
    await a.addresses.requestAddress({
      poolId: 'blue',
      address: '10.81.0.254',
      options: { [REQUEST_ADDRESS_TYPE_OPTION]: GATEWAY_ADDRESS_TYPE },
    });
    const priv = await a.pools.requestPool({ options: {}, v6: false });
    const blueConfig = {
      subnet: '10.81.0.0/24',
      ipRange: '10.81.0.128/25',
      gateway: '10.81.0.254',
      auxAddresses: ['10.81.0.20'],
    };
    docker.networks = [
      dockerNetwork('blue-1', {
        poolOption: 'blue',
        configs: [blueConfig],
        endpoints: [{ name: 'web-1', ipv4: '10.81.0.130' }],
      }),
      dockerNetwork('blue-2', {
        poolOption: 'blue',
        configs: [{ subnet: '10.81.0.0/24', ipRange: '10.81.0.128/25', auxAddresses: [] }],
      }),
      dockerNetwork('private', { configs: [{ subnet: priv.pool, auxAddresses: [] }] }),
      dockerNetwork('bridge', {
        ipamDriver: 'default',
        configs: [{ subnet: '172.17.0.0/16', auxAddresses: [] }],
      }),
    ];
    return priv.poolId;
  }

  const run = async (dryRun = false): Promise<RepairReport> => repair(moduleRef, config, dryRun);

  it('should register again what a snapshot restore lost, and change nothing on a second run', async () => {
    await hostWithNetworks();
    const before = blueKeys(await raw.state());
    await raw.client.delete().prefix(`${prefix}/`); // the restore: none of it is in etcd

    const dry = await run(true);
    expect(dry.pools).toMatchObject([{ id: 'blue', pool: 'created', addresses: { created: 3 } }]);
    expect(await raw.keys()).toEqual([]);

    const report = await run();
    const text = renderRepairText(report).join('\n');
    expect(text).toContain(
      'pool blue 10.81.0.0/24 (blue-1, blue-2): created; membership created; addresses 3 new, 0 present',
    );
    expect(text).toMatch(
      /^cannot repair network private \(10\.80\.0\.0\/24\) was created without --ipam-opt network=NAME/m,
    );
    expect(report.ok).toBe(false);
    // The pool, its subnet and gateway, node a's membership with a reference per network and
    // every address, as the plugin had written them.
    expect(blueKeys(await raw.state())).toEqual(before);

    const written = await raw.client.getAll().prefix(`${prefix}/`).strings();
    const again = await run();
    expect(again.pools).toMatchObject([
      {
        id: 'blue',
        pool: 'present',
        membership: 'present',
        addresses: { created: 0, present: 3 },
        conflicts: [],
      },
    ]);
    expect(await raw.client.getAll().prefix(`${prefix}/`).strings()).toEqual(written);

    // The plugin serves the pool again: the repaired addresses stay taken.
    await expect(
      b.addresses.requestAddress({
        poolId: 'blue',
        address: '10.81.0.130',
        options: containerOptions(),
      }),
    ).rejects.toThrow('held by node node-a for container web-1');
  });

  it('should repair a private pool etcd still holds, and only what is missing', async () => {
    const privateId = await hostWithNetworks();
    await raw.client.delete().key(`${prefix}/pool-nodes/${privateId}/node-a`); // a --forget-node
    await raw.client.delete().key(`${prefix}/addresses/blue/10.81.0.130`);
    const report = await run();
    expect(report.problems).toEqual([]);
    expect(report.pools).toMatchObject([
      { id: 'blue', pool: 'present', membership: 'present', addresses: { created: 1, present: 2 } },
      { id: privateId, pool: 'present', membership: 'created' },
    ]);
    expect(await raw.keys(`pool-nodes/${privateId}/`)).toEqual([`pool-nodes/${privateId}/node-a`]);
    expect(report.ok).toBe(true);
  });

  it('should report what etcd holds otherwise, and keep it', async () => {
    await hostWithNetworks();
    await raw.client.delete().prefix(`${prefix}/`);
    // Meanwhile node b created pool blue with another subnet, and holds an address of pool red.
    await b.pools.requestPool({ options: { network: 'blue' }, pool: '10.82.0.0/24', v6: false });
    await b.pools.requestPool({ options: { network: 'red' }, pool: '10.83.0.0/24', v6: false });
    await b.addresses.requestAddress({
      poolId: 'red',
      address: '10.83.0.9',
      options: containerOptions(),
    });
    docker.networks.push(
      dockerNetwork('red', {
        poolOption: 'red',
        configs: [{ subnet: '10.83.0.0/24', auxAddresses: [] }],
        endpoints: [{ name: 'db', ipv4: '10.83.0.9' }],
      }),
    );
    const before = await raw.state();
    const report = await run();
    const text = renderRepairText(report);
    expect(text).toContain('pool blue 10.81.0.0/24 (blue-1, blue-2): CONFLICT');
    expect(text).toContain(
      "conflict pool blue: etcd holds it with subnet 10.82.0.0/24, this host's networks blue-1, blue-2 with subnet 10.81.0.0/24 range 10.81.0.128/25; etcd's is kept (remove and create the network here)",
    );
    expect(text).toContain(
      "conflict address 10.83.0.9 of pool red: this host's Docker uses it (container db), etcd holds it for node node-b (endpoint); etcd's is kept",
    );
    const after = await raw.state();
    expect(after['pools/blue']).toEqual(before['pools/blue']);
    expect(after['addresses/red/10.83.0.9']).toEqual(before['addresses/red/10.83.0.9']);
    expect(after['pool-nodes/red/node-a']).toMatchObject({ refs: 1 }); // the membership was missing
  });

  it('should register again both pools of a dual-stack network, as the plugin had written them', async () => {
    await a.pools.requestPool(dual(false));
    await a.pools.requestPool(dual(true));
    const mac = '02:42:0a:54:00:02';
    const web = { ...containerOptions(mac), 'com.docker.network.endpoint.name': 'web' };
    const v4 = await a.addresses.requestAddress({ poolId: 'dual', options: web });
    const v6 = await a.addresses.requestAddress({ poolId: 'dual:v6', options: web });
    await a.addresses.requestAddress({ poolId: 'dual:v6', address: 'fd00:81::20', options: {} });
    docker.networks = [
      dockerNetwork('dual', {
        poolOption: 'dual',
        configs: [
          { subnet: '10.84.0.0/24', gateway: '10.84.0.1', auxAddresses: [] },
          { subnet: 'fd00:81::/64', gateway: 'fd00:81::1', auxAddresses: ['fd00:81::20'] },
        ],
        endpoints: [{ name: 'web', ipv4: ip(v4.address), ipv6: ip(v6.address), mac }],
      }),
    ];
    const before = dualKeys(await raw.state());
    expect(Object.keys(before)).toContain('addresses/dual:v6/fd00:81::20');
    await raw.client.delete().prefix(`${prefix}/`);

    const report = await run();
    expect(report.pools).toMatchObject([
      { id: 'dual', pool: 'created', addresses: { created: 1 } },
      { id: 'dual:v6', pool: 'created', addresses: { created: 2 } },
    ]);
    expect(report.ok).toBe(true);
    expect(dualKeys(await raw.state())).toEqual(before);
  });
});
