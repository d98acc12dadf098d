import { describe, expect, it } from 'vitest';

import { planImport } from './plan.js';
import { flattenV2, type V2Entry } from './v2-keyspace.js';

let index = 0;
const e = (key: string, value: object | string): V2Entry => ({
  key,
  value: typeof value === 'string' ? value : JSON.stringify(value),
  createdIndex: ++index,
});

const blue = [
  e('subnets/10.81.0.0', { address: '10.81.0.0/16' }),
  e('pools/blue', { subnet: '10.81.0.0/16', iprange: '10.81.128.0/17', gateway: '10.81.0.1/16' }),
  e('addresses/blue/10.81.0.1', { address: '10.81.0.1/16', node: 'n2' }),
  e('addresses/blue/10.81.128.7', { address: '10.81.128.7/16', node: 'n1' }),
  e('pool-nodes/blue/n1', {}),
  e('pool-nodes/blue/n2', {}),
];

describe('planImport', () => {
  it('should plan a pool with its members, gateway owner and addresses', () => {
    const plan = planImport(blue);
    expect(plan.skipped).toEqual([]);
    expect(plan.pools).toHaveLength(1);
    const [pool] = plan.pools;
    expect(pool).toMatchObject({
      id: 'blue',
      record: { subnet: '10.81.0.0/16', iprange: '10.81.128.0/17', gateway: '10.81.0.1/16' },
      gatewayIp: '10.81.0.1',
      creator: 'n2',
      members: ['n1', 'n2'],
      addresses: [
        { ip: '10.81.128.7', record: { address: '10.81.128.7/16', node: 'n1', type: 'endpoint' } },
      ],
    });
  });

  it('should let the first member create the pool when the gateway owner is none', () => {
    const plan = planImport(blue.filter((x) => x.key !== 'pool-nodes/blue/n2'));
    expect(plan.pools[0]?.creator).toBe('n1');
  });

  const cases: { name: string; entries: V2Entry[]; skippedKey: string; reason: RegExp }[] = [
    {
      name: 'an orphan subnet key',
      entries: [...blue, e('subnets/10.99.0.0', { address: '10.99.0.0/24' })],
      skippedKey: 'subnets/10.99.0.0',
      reason: /subnet 10\.99\.0\.0\/24: no imported pool has it/,
    },
    {
      name: 'a pool overlapping an older one',
      entries: [
        ...blue,
        e('pools/red', { subnet: '10.81.5.0/24', gateway: '10.81.5.1/24' }),
        e('pool-nodes/red/n1', {}),
      ],
      skippedKey: 'pools/red',
      reason: /subnet 10\.81\.5\.0\/24 overlaps subnet 10\.81\.0\.0\/16 of pool blue/,
    },
    {
      name: 'an address of a pool that is not imported',
      entries: [...blue, e('addresses/gone/10.1.0.5', { address: '10.1.0.5/24', node: 'n1' })],
      skippedKey: 'addresses/gone/10.1.0.5',
      reason: /address 10\.1\.0\.5: pool gone is not imported/,
    },
    {
      name: 'an address outside its subnet',
      entries: [...blue, e('addresses/blue/10.82.0.5', { address: '10.82.0.5/16', node: 'n1' })],
      skippedKey: 'addresses/blue/10.82.0.5',
      reason: /not a host address of its subnet 10\.81\.0\.0\/16/,
    },
    {
      name: 'the broadcast address',
      entries: [
        ...blue,
        e('addresses/blue/10.81.255.255', { address: '10.81.255.255/16', node: 'n1' }),
      ],
      skippedKey: 'addresses/blue/10.81.255.255',
      reason: /not a host address/,
    },
    {
      name: 'an address without a node',
      entries: [...blue, e('addresses/blue/10.81.0.9', { address: '10.81.0.9/16' })],
      skippedKey: 'addresses/blue/10.81.0.9',
      reason: /names no valid node/,
    },
    {
      name: 'a pool without members',
      entries: [
        ...blue,
        e('pools/idle', { subnet: '10.90.0.0/24', gateway: '10.90.0.1/24' }),
        e('addresses/idle/10.90.0.1', { address: '10.90.0.1/24', node: 'n1' }),
      ],
      skippedKey: 'pools/idle',
      reason: /no node is a member .* nor its 1 address/,
    },
    {
      name: 'a pool whose gateway is not the first host',
      entries: [e('pools/odd', { subnet: '10.90.0.0/24', gateway: '10.90.0.9/24' })],
      skippedKey: 'pools/odd',
      reason: /gateway 10\.90\.0\.9\/24 is not 10\.90\.0\.1\/24/,
    },
    {
      name: 'a /31 pool',
      entries: [e('pools/tiny', { subnet: '10.90.0.0/31', gateway: '10.90.0.1/31' })],
      skippedKey: 'pools/tiny',
      reason: /not a \/8 to \/30/,
    },
    {
      name: 'a pool value that is not JSON',
      entries: [e('pools/junk', 'nope')],
      skippedKey: 'pools/junk',
      reason: /has no IPv4 subnet/,
    },
    {
      name: 'a pool name this plugin refuses',
      entries: [e('pools/local-x', { subnet: '10.90.0.0/24', gateway: '10.90.0.1/24' })],
      skippedKey: 'pools/local-x',
      reason: /not a valid network name/,
    },
    {
      name: 'an iprange outside the subnet',
      entries: [
        e('pools/wide', {
          subnet: '10.90.0.0/24',
          iprange: '10.91.0.0/25',
          gateway: '10.90.0.1/24',
        }),
      ],
      skippedKey: 'pools/wide',
      reason: /iprange 10\.91\.0\.0\/25 is not a network inside subnet/,
    },
  ];

  it.each(cases)('should skip $name and say why', ({ entries, skippedKey, reason }) => {
    const plan = planImport(entries);
    const skipped = plan.skipped.find((s) => s.key === skippedKey);
    expect(skipped?.reason).toMatch(reason);
  });
});

describe('flattenV2', () => {
  it('should list the leaves relative to the prefix, in key order', () => {
    const node = {
      key: '/kontena/ipam',
      dir: true,
      nodes: [
        {
          key: '/kontena/ipam/pools',
          dir: true,
          nodes: [{ key: '/kontena/ipam/pools/b', value: '{}', createdIndex: 9 }],
        },
        { key: '/kontena/ipam/addresses', dir: true },
        { key: '/kontena/ipam/pools2', value: 'x', createdIndex: 4 },
        { key: '/elsewhere/x', value: 'y' },
      ],
    };
    expect(flattenV2(node)).toEqual([
      { key: 'pools/b', value: '{}', createdIndex: 9 },
      { key: 'pools2', value: 'x', createdIndex: 4 },
    ]);
  });

  it('should answer nothing for a reply without a node', () => {
    expect(flattenV2(undefined)).toEqual([]);
  });
});
