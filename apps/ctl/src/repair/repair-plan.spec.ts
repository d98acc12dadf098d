import { describe, expect, it } from 'vitest';

import type { DockerNetwork } from '../../../cleanup/src/docker/docker-networks.js';
import type { StoredPool } from '#app/store';
import { planRepair } from './repair-plan.js';

const net = (name: string, partial: Partial<DockerNetwork> = {}): DockerNetwork => ({
  id: name,
  name,
  ipamDriver: 'kontena-ipam',
  configs: [{ subnet: '10.81.0.0/24', auxAddresses: [] }],
  endpoints: [],
  ...partial,
});
const stored = (id: string, subnet: string): StoredPool => ({
  id,
  record: { subnet, gateway: '' },
  createRevision: '1',
});
const DRIVERS = ['kontena-ipam'];
/** A dual-stack network created without --ipam-opt network=NAME: its pools are private. */
const privateDualStack = net('private', {
  configs: [
    { subnet: '10.81.0.0/24', auxAddresses: [] },
    { subnet: 'fd00:2::/64', auxAddresses: [] },
  ],
});

describe('planRepair', () => {
  it('should plan one pool per id, a reference per network, every address once', () => {
    const plan = planRepair(
      [
        net('b', {
          poolOption: 'blue',
          configs: [
            {
              subnet: '10.81.0.0/24',
              ipRange: '10.81.0.128/25',
              gateway: '10.81.0.254',
              auxAddresses: ['10.81.0.20'],
            },
          ],
          endpoints: [{ name: 'web', ipv4: '10.81.0.130' }, { name: 'idle' }],
        }),
        net('a', {
          poolOption: 'blue',
          endpoints: [{ name: 'web', ipv4: '10.81.0.130', mac: '02:42:0a:51:00:82' }],
        }),
      ],
      DRIVERS,
      [],
      'n1',
    );
    expect(plan.problems).toEqual([]);
    expect(plan.pools).toHaveLength(1);
    expect(plan.pools[0]).toMatchObject({
      id: 'blue',
      // the first network in name order gives the shape: a has no --ip-range
      record: { subnet: '10.81.0.0/24', gateway: '10.81.0.1/24' },
      networks: ['a', 'b'],
      addresses: [
        {
          ip: '10.81.0.130',
          what: 'container web',
          record: { node: 'n1', type: 'endpoint', name: 'web', mac: '02:42:0a:51:00:82' },
        },
        {
          ip: '10.81.0.20',
          what: 'aux address',
          record: { address: '10.81.0.20/24', type: 'aux' },
        },
        { ip: '10.81.0.254', what: 'gateway', record: { type: 'gateway' } },
      ],
    });
  });

  it.each([
    {
      name: 'a private network whose pool etcd lost',
      networks: [net('p')],
      pools: [],
      problem: /network p \(10\.81\.0\.0\/24\) was created without --ipam-opt network=NAME/,
    },
    {
      name: 'a network without an IPv4 subnet',
      networks: [
        net('v6', { poolOption: 'x', configs: [{ subnet: 'fd00::/64', auxAddresses: [] }] }),
      ],
      pools: [],
      problem: /network v6 shows no IPv4 subnet/,
    },
    {
      name: 'an address outside the subnet',
      networks: [net('o', { poolOption: 'o', endpoints: [{ name: 'c', ipv4: '10.99.0.5' }] })],
      pools: [],
      problem: /network o: container c 10\.99\.0\.5 is not a host address of pool o's subnet/,
    },
    {
      name: 'two local networks naming one pool with two subnets',
      networks: [
        net('a', { poolOption: 'x' }),
        net('b', { poolOption: 'x', configs: [{ subnet: '10.82.0.0/24', auxAddresses: [] }] }),
      ],
      pools: [],
      problem:
        /network b names pool x with subnet 10\.82\.0\.0\/24, another local network with 10\.81\.0\.0\/24/,
    },
  ])('should report $name', ({ networks, pools, problem }) => {
    expect(planRepair(networks, DRIVERS, pools, 'n1').problems).toEqual([
      expect.stringMatching(problem),
    ]);
  });

  it('should find a private pool by its subnet, and leave other drivers alone', () => {
    const plan = planRepair(
      [
        net('p'),
        net('bridge', { ipamDriver: 'default' }),
        net('m', {
          ipamDriver: 'kontena-ipam:latest',
          poolOption: 'm',
          configs: [{ subnet: '10.83.0.0/24', auxAddresses: [] }],
        }),
      ],
      DRIVERS,
      [stored('local-1234', '10.81.0.0/24')],
      'n1',
    );
    expect(plan.problems).toEqual([]);
    expect(plan.pools.map((p) => [p.id, p.networks])).toEqual([
      ['m', ['m']],
      ['local-1234', ['p']],
    ]);
  });

  it('should plan both pools of a dual-stack network, each with its own addresses', () => {
    const plan = planRepair(
      [
        net('dual', {
          poolOption: 'dual',
          configs: [
            { subnet: '10.81.0.0/24', auxAddresses: ['10.81.0.20'] },
            {
              subnet: 'fd00:1:0:0::/64',
              gateway: 'fd00:1:0:0:0:0:0:1',
              auxAddresses: ['fd00:1::20'],
            },
          ],
          endpoints: [
            { name: 'web', ipv4: '10.81.0.2', ipv6: 'FD00:1::2', mac: '02:42:0a:51:00:02' },
          ],
        }),
      ],
      DRIVERS,
      [],
      'n1',
    );
    expect(plan.problems).toEqual([]);
    expect(plan.pools.map((p) => [p.id, p.record, p.networks])).toEqual([
      ['dual', { subnet: '10.81.0.0/24', gateway: '10.81.0.1/24' }, ['dual']],
      ['dual:v6', { subnet: 'fd00:1::/64', gateway: 'fd00:1::1/64' }, ['dual']],
    ]);
    expect(plan.pools[1]!.addresses).toEqual([
      {
        ip: 'fd00:1::2',
        what: 'container web',
        record: {
          address: 'fd00:1::2/64',
          node: 'n1',
          type: 'endpoint',
          name: 'web',
          mac: '02:42:0a:51:00:02',
        },
      },
      {
        ip: 'fd00:1::20',
        what: 'aux address',
        record: { address: 'fd00:1::20/64', node: 'n1', type: 'aux' },
      },
    ]);
  });

  it('should find the private IPv6 pool of a dual-stack network by its subnet', () => {
    const plan = planRepair(
      [privateDualStack],
      DRIVERS,
      [stored('local-4', '10.81.0.0/24'), stored('local-6', 'fd00:2::/64')],
      'n1',
    );
    expect(plan.problems).toEqual([]);
    expect(plan.pools.map((p) => p.id)).toEqual(['local-4', 'local-6']);
  });

  it('should say so when the IPv6 pool of a private network is not in etcd, and plan the IPv4 one', () => {
    const plan = planRepair([privateDualStack], DRIVERS, [stored('local-4', '10.81.0.0/24')], 'n1');
    expect(plan.pools.map((p) => p.id)).toEqual(['local-4']);
    expect(plan.problems).toEqual([
      expect.stringMatching(
        /^network private \(fd00:2::\/64\) was created without --ipam-opt network=NAME/,
      ),
    ]);
  });
});
