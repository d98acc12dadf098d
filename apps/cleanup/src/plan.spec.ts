import { describe, expect, it } from 'vitest';

import type { NodeMember, StoredAddress, StoredPool } from '#app/store';

import type { DockerNetwork } from './docker/docker-networks.js';
import {
  classifyAddress,
  classifyForgotten,
  planMembership,
  planPoolDeletion,
  readDockerView,
  sameDriver,
  type KnownAddress,
  type PoolUse,
} from './plan.js';

const R = 100n;
const ME = 'node-a';

function address(
  ip: string,
  node: string,
  modRevision: number,
  type?: 'gateway' | 'endpoint' | 'aux' | 'vip',
): StoredAddress {
  return {
    ip,
    // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- 'vip': a later version's kind
    record: { address: `${ip}/24`, node, ...(type ? { type: type as 'aux' } : {}) },
    createRevision: String(modRevision),
    modRevision: String(modRevision),
  };
}

function pool(id: string, subnet: string): StoredPool {
  return { id, record: { subnet, gateway: '' }, createRevision: '1' };
}

function network(partial: Partial<DockerNetwork> & { name: string }): DockerNetwork {
  return {
    id: `id-${partial.name}`,
    ipamDriver: 'kontena-ipam',
    configs: [],
    endpoints: [],
    ...partial,
  };
}

const member = (refs: number, modRevision: number): NodeMember => ({
  node: ME,
  record: { refs },
  modRevision: String(modRevision),
});

const use = (networks: string[], foreign: string[] = []): PoolUse => ({ networks, foreign });

describe('classifyAddress', () => {
  const known = new Map<string, KnownAddress>([
    ['10.80.0.2', { use: 'container', network: 'n1' }],
    ['10.80.0.1', { use: 'docker-gateway', network: 'n1' }],
    ['10.80.0.10', { use: 'aux-address', network: 'n1' }],
  ]);

  it.each([
    // edge rows first: the revision boundary
    { name: 'modified exactly at R', a: address('10.80.0.5', ME, 100), expected: 'orphan' },
    { name: 'modified right after R', a: address('10.80.0.5', ME, 101), expected: 'new' },
    { name: 'old, unknown to Docker', a: address('10.80.0.5', ME, 3), expected: 'orphan' },
    {
      name: 'typed endpoint, old, unknown',
      a: address('10.80.0.5', ME, 3, 'endpoint'),
      expected: 'orphan',
    },
    {
      name: "another node's, old and unknown",
      a: address('10.80.0.5', 'node-b', 3),
      expected: 'other-node',
    },
    {
      name: "another node's, listed by Docker",
      a: address('10.80.0.2', 'node-b', 3),
      expected: 'other-node',
    },
    { name: 'a container endpoint', a: address('10.80.0.2', ME, 3), expected: 'container' },
    {
      name: 'a container endpoint written after R',
      a: address('10.80.0.2', ME, 150),
      expected: 'container',
    },
    {
      name: "Docker's gateway",
      a: address('10.80.0.1', ME, 3, 'gateway'),
      expected: 'docker-gateway',
    },
    {
      name: 'an aux address (typed endpoint)',
      a: address('10.80.0.10', ME, 3, 'endpoint'),
      expected: 'aux-address',
    },
    {
      name: 'a gateway record Docker does not list',
      a: address('10.80.0.254', ME, 3, 'gateway'),
      expected: 'gateway',
    },
    {
      name: 'a gateway record written after R',
      a: address('10.80.0.254', ME, 150, 'gateway'),
      expected: 'gateway',
    },
    {
      name: 'an aux record Docker does not list (the network removed here, kept elsewhere)',
      a: address('10.80.0.11', ME, 3, 'aux'),
      expected: 'aux',
    },
    {
      name: 'a record of a kind this version does not know',
      a: address('10.80.0.12', ME, 3, 'vip'),
      expected: 'unknown-kind',
    },
    {
      name: 'no node in the record',
      a: { ...address('10.80.0.5', '', 3), record: { address: '10.80.0.5/24', node: '' } },
      expected: 'other-node',
    },
  ])('$name -> $expected', ({ a, expected }) => {
    expect(classifyAddress(a, ME, R, known)).toBe(expected);
  });
});

describe('classifyForgotten', () => {
  it.each([
    {
      name: "the forgotten node's endpoint",
      a: address('10.80.0.5', 'gone', 3),
      expected: 'forgotten',
    },
    { name: 'modified exactly at R', a: address('10.80.0.5', 'gone', 100), expected: 'forgotten' },
    {
      name: 'written after R: the node lives',
      a: address('10.80.0.5', 'gone', 101),
      expected: 'new',
    },
    {
      name: "the forgotten node's gateway",
      a: address('10.80.0.1', 'gone', 3, 'gateway'),
      expected: 'gateway',
    },
    {
      name: "the forgotten node's aux address",
      a: address('10.80.0.10', 'gone', 3, 'aux'),
      expected: 'aux',
    },
    {
      name: "the forgotten node's record of a kind this version does not know",
      a: address('10.80.0.11', 'gone', 3, 'vip'),
      expected: 'unknown-kind',
    },
    { name: "this node's address", a: address('10.80.0.6', ME, 3), expected: 'other-node' },
    {
      name: "a third node's address",
      a: address('10.80.0.7', 'node-c', 3),
      expected: 'other-node',
    },
  ])('$name -> $expected', ({ a, expected }) => {
    expect(classifyForgotten(a, 'gone', R)).toBe(expected);
  });
});

describe('planMembership', () => {
  it.each([
    { name: 'no membership, no network', m: undefined, u: undefined, expected: { action: 'none' } },
    {
      name: 'no membership, foreign network only',
      m: undefined,
      u: use([], ['other']),
      expected: { action: 'none' },
    },
    {
      name: 'no membership, yet a local network',
      m: undefined,
      u: use(['n1']),
      expected: { action: 'missing', networks: ['n1'] },
    },
    {
      name: 'modified after R',
      m: member(1, 101),
      u: undefined,
      expected: { action: 'skip', reason: 'new' },
    },
    {
      name: 'modified at R, unused',
      m: member(1, 100),
      u: undefined,
      expected: { action: 'delete' },
    },
    { name: 'unused, refs 3', m: member(3, 5), u: use([]), expected: { action: 'delete' } },
    {
      name: 'one network, refs 1',
      m: member(1, 5),
      u: use(['n1']),
      expected: { action: 'keep', refs: 1, reason: 'in-use' },
    },
    {
      name: 'two networks, refs 2',
      m: member(2, 5),
      u: use(['n1', 'n2']),
      expected: { action: 'keep', refs: 2, reason: 'in-use' },
    },
    {
      name: 'one network, refs 3 (leaked references)',
      m: member(3, 5),
      u: use(['n1']),
      expected: { action: 'set-refs', from: 3, to: 1 },
    },
    {
      name: 'two networks, refs 1 (too few)',
      m: member(1, 5),
      u: use(['n1', 'n2']),
      expected: { action: 'set-refs', from: 1, to: 2 },
    },
    {
      name: 'a foreign network overlaps',
      m: member(3, 5),
      u: use([], ['other']),
      expected: { action: 'keep', refs: 3, reason: 'foreign-network' },
    },
    {
      name: 'a foreign network, modified after R',
      m: member(3, 101),
      u: use([], ['other']),
      expected: { action: 'skip', reason: 'new' },
    },
  ])('$name', ({ m, u, expected }) => {
    expect(planMembership(m, u, R)).toMatchObject(expected);
  });

  it('hands the membership read to the writes it plans', () => {
    const m = member(3, 5);
    expect(planMembership(m, use([]), R)).toEqual({ action: 'delete', member: m });
    expect(planMembership(m, use(['n1']), R)).toEqual({
      action: 'set-refs',
      member: m,
      from: 3,
      to: 1,
    });
  });
});

describe('planPoolDeletion', () => {
  it.each([
    { name: 'no member, no local use', left: 0, u: undefined, expected: 'delete' },
    { name: 'no member, empty use', left: 0, u: use([]), expected: 'delete' },
    { name: 'one member left', left: 1, u: undefined, expected: 'has-members' },
    { name: 'no member, a local network', left: 0, u: use(['n1']), expected: 'used-locally' },
    { name: 'no member, a foreign network', left: 0, u: use([], ['x']), expected: 'used-locally' },
  ])('$name -> $expected', ({ left, u, expected }) => {
    expect(planPoolDeletion(left, u)).toBe(expected);
  });
});

describe('readDockerView', () => {
  const pools = [
    pool('kontena', '10.81.0.0/16'),
    pool('local-0b5c', '10.80.0.0/24'),
    pool('blue', '10.80.1.0/24'),
  ];

  it('maps a network option to its pool and a network without one by its subnet', () => {
    const view = readDockerView(
      [
        network({
          name: 'kontena',
          poolOption: 'kontena',
          configs: [{ subnet: '10.81.0.0/16', auxAddresses: [] }],
        }),
        network({
          name: 'private',
          configs: [{ subnet: '10.80.0.0/24', gateway: '10.80.0.1', auxAddresses: [] }],
        }),
      ],
      pools,
      ['kontena-ipam'],
    );
    expect(view.uses).toEqual(
      new Map([
        ['kontena', use(['kontena'])],
        ['local-0b5c', use(['private'])],
      ]),
    );
    expect(view.driverNetworks).toBe(2);
    expect(view.warnings).toEqual([]);
  });

  it('counts one reference per network on a shared pool', () => {
    const view = readDockerView(
      ['a', 'b'].map((name) =>
        network({
          name,
          poolOption: 'blue',
          configs: [{ subnet: '10.80.1.0/24', auxAddresses: [] }],
        }),
      ),
      pools,
      ['kontena-ipam'],
    );
    expect(view.uses.get('blue')).toEqual(use(['a', 'b']));
  });

  it('knows container addresses, gateways and aux addresses, prefixes stripped', () => {
    const view = readDockerView(
      [
        network({
          name: 'gw',
          poolOption: 'kontena',
          configs: [
            { subnet: '10.81.0.0/16', gateway: '10.81.0.254', auxAddresses: ['10.81.0.10'] },
          ],
          endpoints: [{ name: 'c1', ipv4: '10.81.128.5' }, { name: 'c2' }],
        }),
      ],
      pools,
      ['kontena-ipam'],
    );
    expect(Object.fromEntries(view.known)).toEqual({
      '10.81.128.5': { use: 'container', network: 'gw' },
      '10.81.0.254': { use: 'docker-gateway', network: 'gw' },
      '10.81.0.10': { use: 'aux-address', network: 'gw' },
    });
  });

  it('ignores networks of other drivers that overlap no pool', () => {
    const view = readDockerView(
      [
        network({
          name: 'bridge',
          ipamDriver: 'default',
          configs: [{ subnet: '172.17.0.0/16', auxAddresses: [] }],
          endpoints: [{ name: 'x', ipv4: '172.17.0.2' }],
        }),
      ],
      pools,
      ['kontena-ipam'],
    );
    expect(view).toEqual({ known: new Map(), uses: new Map(), driverNetworks: 0, warnings: [] });
  });

  it('treats a network of another driver that overlaps a pool as foreign, and says so', () => {
    const view = readDockerView(
      [
        network({
          name: 'renamed',
          ipamDriver: 'kontena/ipam:latest',
          poolOption: 'kontena',
          configs: [{ subnet: '10.81.0.0/16', auxAddresses: [] }],
          endpoints: [{ name: 'c', ipv4: '10.81.128.9' }],
        }),
      ],
      pools,
      ['kontena-ipam'],
    );
    expect(view.uses.get('kontena')).toEqual(use([], ['renamed']));
    expect(view.known.get('10.81.128.9')).toEqual({ use: 'container', network: 'renamed' });
    expect(view.driverNetworks).toBe(0);
    expect(view.warnings).toEqual([expect.stringContaining('does --driver name the plugin?')]);
  });

  it('warns about networks whose pool is not in etcd, and still knows their addresses', () => {
    const view = readDockerView(
      [
        network({
          name: 'lost',
          poolOption: 'gone',
          configs: [{ subnet: '10.82.0.0/24', auxAddresses: [] }],
        }),
        network({
          name: 'orphaned',
          configs: [{ subnet: '10.83.0.0/24', auxAddresses: [] }],
          endpoints: [{ name: 'c', ipv4: '10.83.0.2' }],
        }),
      ],
      pools,
      ['kontena-ipam'],
    );
    expect(view.warnings).toEqual([
      'Docker network lost uses pool gone, which is not in etcd',
      'Docker network orphaned (subnet 10.83.0.0/24) matches no pool in etcd',
    ]);
    expect(view.known.has('10.83.0.2')).toBe(true);
  });

  it('counts the IPv6 entry of a dual-stack network against NAME:v6, and knows its addresses', () => {
    const view = readDockerView(
      [
        network({
          name: 'dual',
          poolOption: 'blue',
          configs: [
            { subnet: '10.80.0.0/24', gateway: '10.80.0.1', auxAddresses: [] },
            { subnet: 'fd00:1::/64', gateway: 'fd00:1::1', auxAddresses: ['fd00:1:0:0::9'] },
          ],
          endpoints: [{ name: 'c', ipv4: '10.80.0.2', ipv6: 'fd00:1:0:0:0:0:0:2' }],
        }),
        network({
          name: 'v6-only',
          poolOption: 'green',
          configs: [{ subnet: 'fd00:2::/64', auxAddresses: [] }],
        }),
      ],
      [...pools, pool('blue:v6', 'fd00:1::/64'), pool('green:v6', 'fd00:2::/64')],
      ['kontena-ipam'],
    );
    expect(view.uses.get('blue')).toEqual(use(['dual']));
    expect(view.uses.get('blue:v6')).toEqual(use(['dual']));
    expect(view.uses.get('green:v6')).toEqual(use(['v6-only']));
    expect(view.uses.get('green')).toBeUndefined();
    // RFC 5952 text, as the address keys spell them.
    expect(view.known.get('fd00:1::2')).toEqual({ use: 'container', network: 'dual' });
    expect(view.known.get('fd00:1::9')).toEqual({ use: 'aux-address', network: 'dual' });
    expect(view.known.get('fd00:1::1')).toEqual({ use: 'docker-gateway', network: 'dual' });
    expect(view.warnings).toEqual([]);
  });
});

describe('sameDriver', () => {
  it.each([
    { a: 'kontena-ipam', b: 'kontena-ipam', same: true },
    { a: 'kontena/ipam:latest', b: 'kontena/ipam', same: true },
    { a: 'kontena/ipam', b: 'kontena/ipam:latest', same: true },
    { a: 'kontena/ipam:1.0', b: 'kontena/ipam', same: false },
    { a: 'kontena-ipam', b: 'kontena-ipam2', same: false },
    { a: '', b: 'kontena-ipam', same: false },
  ])('$a ~ $b: $same', ({ a, b, same }) => {
    expect(sameDriver(a, b)).toBe(same);
  });
});
