import { describe, expect, it } from 'vitest';

import { Prefix } from '#app/net';
import type { StoredPlan } from '#app/store';

import { renderPlanJson, renderPlanText } from './plan-render.js';
import { planView, supernetRow, supernetsShown } from './plan-view.js';

const pool = (id: string, subnet: string, gateway: string, iprange?: string) => ({
  id,
  record: { subnet, gateway, ...(iprange ? { iprange } : {}) },
  createRevision: '1',
});

const plan = (over: Partial<StoredPlan> = {}): StoredPlan => ({
  revision: '42',
  pools: [],
  subnets: [],
  members: [],
  addressCounts: new Map(),
  cleanupPasses: [],
  registrations: [],
  ...over,
});

const prefix = (s: string): Prefix => Prefix.parse(s);

describe('supernetRow', () => {
  it.each([
    {
      name: 'no pools',
      supernet: '10.80.0.0/12',
      len: 24,
      pools: [],
      subnets: 4096n,
      carved: 0n,
      free: 4096n,
    },
    {
      name: 'two /24s',
      supernet: '10.80.0.0/12',
      len: 24,
      pools: ['10.80.0.0/24', '10.80.1.0/24'],
      subnets: 4096n,
      carved: 2n,
      free: 4094n,
    },
    {
      name: 'a static /16 inside takes 256 subnets, a /28 one, a pool outside none',
      supernet: '10.80.0.0/12',
      len: 24,
      pools: ['10.81.0.0/16', '10.80.5.16/28', '192.168.0.0/24'],
      subnets: 4096n,
      carved: 2n,
      free: 4096n - 257n,
    },
    {
      name: 'two /28s in one /24 take it once',
      supernet: '10.80.0.0/12',
      len: 24,
      pools: ['10.80.5.0/28', '10.80.5.16/28'],
      subnets: 4096n,
      carved: 2n,
      free: 4095n,
    },
    {
      name: 'a pool around the supernet takes all of it (not carved from it)',
      supernet: '10.80.0.0/12',
      len: 24,
      pools: ['10.0.0.0/8'],
      subnets: 4096n,
      carved: 0n,
      free: 0n,
    },
    {
      name: 'the last subnet of the supernet',
      supernet: '10.80.0.0/12',
      len: 24,
      pools: ['10.95.255.0/24'],
      subnets: 4096n,
      carved: 1n,
      free: 4095n,
    },
    {
      name: 'an IPv6 /48 of /64s: 65,536 subnets',
      supernet: 'fd00:1::/48',
      len: 64,
      pools: ['fd00:1:0:7::/64', '10.80.0.0/24'],
      subnets: 65536n,
      carved: 1n,
      free: 65535n,
    },
    {
      name: 'an IPv6 /8 of /120s: beyond 2^53',
      supernet: 'fd00::/8',
      len: 120,
      pools: ['fd00::/120'],
      subnets: 1n << 112n,
      carved: 1n,
      free: (1n << 112n) - 1n,
    },
  ])('$name', ({ supernet, len, pools, subnets, carved, free }) => {
    expect(supernetRow(prefix(supernet), len, pools.map(prefix))).toMatchObject({
      subnets,
      carved,
      free,
    });
  });
});

describe('planView and its rendering', () => {
  const stored = plan({
    pools: [
      pool('blue', '10.80.0.0/24', '10.80.0.1/24', '10.80.0.128/25'),
      pool('v6', 'fd00:1:0:7::/64', 'fd00:1:0:7::1/64'),
      pool('bad', 'nonsense', ''),
    ],
    members: [
      { pool: 'blue', node: 'node-b', refs: 2 },
      { pool: 'blue', node: 'node-a', refs: 1 },
      { pool: 'v6', node: 'node-a', refs: 1 },
    ],
    addressCounts: new Map([
      ['blue', 254],
      ['v6', 3],
      ['bad', 1],
    ]),
    registrations: [
      {
        node: 'node-a',
        instance: 'i1',
        record: { host: 'host-a', pid: 1, version: '0.3.0', started: 'x', ttl: 10 },
        createRevision: '3',
      },
    ],
    cleanupPasses: [{ node: 'node-c', record: { time: '2026-12-07T11:00:00.000Z', freed: 4 } }],
  });
  const view = planView(stored, '/kontena/ipam', [{ supernet: '10.80.0.0/12', subnetLength: 24 }]);

  it('should size IPv4 pools without network and broadcast, IPv6 without the first address', () => {
    expect(view.pools.map((p) => [p.id, p.family, p.size, p.allocated, p.free])).toEqual([
      ['blue', 'ipv4', 254n, 254n, 0n],
      ['v6', 'ipv6', (1n << 64n) - 1n, 3n, (1n << 64n) - 4n],
      ['bad', 'ipv4', 0n, 1n, 0n],
    ]);
    expect(view.pools[0]?.nodes).toEqual([
      { node: 'node-a', refs: 1 },
      { node: 'node-b', refs: 2 },
    ]);
  });

  it('should list every node: members, running plugins and cleanup passes', () => {
    expect(
      view.nodes.map((n) => [n.node, n.pools, n.plugins.length, n.lastCleanupPass?.freed]),
    ).toEqual([
      ['node-a', 2, 1, undefined],
      ['node-b', 1, 0, undefined],
      ['node-c', 0, 0, 4],
    ]);
  });

  it('should give counts in JSON as decimal strings, exact beyond 2^53', () => {
    const json = JSON.parse(renderPlanJson(view));
    expect(json.pools[1]).toEqual({
      id: 'v6',
      family: 'ipv6',
      subnet: 'fd00:1:0:7::/64',
      ipRange: null,
      gateway: 'fd00:1:0:7::1',
      nodes: [{ node: 'node-a', refs: 1 }],
      allocated: '3',
      size: '18446744073709551615',
      free: '18446744073709551612',
    });
    expect(json.pools[0].ipRange).toBe('10.80.0.128/25');
    expect(json.supernets[0]).toEqual({
      family: 'ipv4',
      supernet: '10.80.0.0/12',
      subnetLength: 24,
      subnets: '4096',
      carved: '1',
      free: '4095',
    });
    expect(json.nodes[2]).toEqual({
      node: 'node-c',
      pools: 0,
      plugins: [],
      lastCleanupPass: { time: '2026-12-07T11:00:00.000Z', freed: 4 },
    });
  });

  it('should render a table per part, aligned, with a bar per pool', () => {
    const text = renderPlanText(view, new Date('2026-12-07T12:00:00.000Z'));
    expect(text[0]).toBe('address plan under etcd prefix /kontena/ipam at revision 42');
    const header = text[2] ?? '';
    const blue = text[3] ?? '';
    expect(header).toMatch(
      /^POOL +FAMILY +SUBNET +IP RANGE +GATEWAY +NODES \(REFS\) +ALLOCATED +SIZE +FREE +USE$/,
    );
    expect(blue).toMatch(/^blue .* node-a\(1\) node-b\(2\) +254 +254 +0 +\[#{20}\] +100\.0%$/);
    // right-aligned counts end in the same column
    expect(blue.slice(0, header.indexOf('FREE') + 4)).toMatch(/ 0$/);
    expect(text.find((l) => l.startsWith('node-a'))).toMatch(
      /^node-a +2 +host-a \(0\.3\.0\) +never +- +- +- +-$/,
    );
    expect(text.find((l) => l.startsWith('node-c'))).toMatch(
      /^node-c +0 +not running +2026-12-07T11:00:00\.000Z +60m +4 +- +-$/,
    );
  });

  it('should say so when there are no pools', () => {
    expect(renderPlanText(planView(plan(), '/p', []), new Date())).toEqual([
      'address plan under etcd prefix /p at revision 42',
      '',
      'no pools',
    ]);
  });
});

describe('supernetsShown', () => {
  const v4 = [
    { supernet: '10.80.0.0/12', subnetLength: 24 },
    { supernet: '172.30.0.0/16', subnetLength: 26 },
  ];
  it.each([
    { name: 'no IPv6 supernet yet', supernets6: undefined, stored: undefined, want: v4 },
    {
      name: "the cluster's IPv6 supernet, with the IPv6 length",
      supernets6: undefined,
      stored: 'fd12:3456:789a::/48',
      want: [...v4, { supernet: 'fd12:3456:789a::/48', subnetLength: 64 }],
    },
    {
      name: "this host's KONTENA_IPAM_SUPERNET6 list in place of the cluster's",
      supernets6: [
        { supernet: 'fd00:1::/48', subnetLength: 64 },
        { supernet: 'fd00:2::/48', subnetLength: 80 },
      ],
      stored: 'fd12:3456:789a::/48',
      want: [
        ...v4,
        { supernet: 'fd00:1::/48', subnetLength: 64 },
        { supernet: 'fd00:2::/48', subnetLength: 80 },
      ],
    },
  ])('should list every IPv4 entry, then $name', ({ supernets6, stored, want }) => {
    const config = { supernets: v4, subnet6Length: 64, ...(supernets6 && { supernets6 }) };
    expect(supernetsShown(config, stored === undefined ? {} : { supernet6: stored })).toEqual(want);
  });
});
