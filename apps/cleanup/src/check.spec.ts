import { describe, expect, it } from 'vitest';

import {
  checkStore,
  emptyCheckReport,
  renderCheckJson,
  renderCheckText,
  VIOLATION_KINDS,
  type CheckReport,
  type StoreEntry,
  type ViolationKind,
} from './check.js';

const json = (v: unknown): string => JSON.stringify(v);

/** What the plugin writes for a pool: the pool, its subnet key, gateway and one membership. */
function pool(id: string, subnet: string, node = 'node-a'): StoreEntry[] {
  const [net = '', len = ''] = subnet.split('/');
  const gw = net.replace(/\d+$/, (last) => String(Number(last) + 1));
  return [
    { key: `pools/${id}`, value: json({ subnet, gateway: `${gw}/${len}`, req: 'n1' }) },
    { key: `subnets/${net}`, value: json({ address: subnet, pool: id, req: 'n1' }) },
    {
      key: `addresses/${id}/${gw}`,
      value: json({ address: `${gw}/${len}`, node, type: 'gateway', req: 'n1' }),
    },
    { key: `pool-nodes/${id}/${node}`, value: json({ refs: 1, req: 'n1', reqs: ['n1'] }) },
  ];
}

function address(poolId: string, ip: string, len: number, node = 'node-a'): StoreEntry {
  return {
    key: `addresses/${poolId}/${ip}`,
    value: json({ address: `${ip}/${len}`, node, type: 'endpoint', req: 'n2' }),
  };
}

/** A running plugin's registration, as node-registration.ts writes it. */
function registration(node: string, instance: string, extra: object = {}): StoreEntry {
  return {
    key: `nodes/${node}/${instance}`,
    value: json({
      host: 'host-a',
      pid: 4242,
      started: '2026-12-06T21:00:00.000Z',
      version: '0.3.0',
      ttl: 10,
      ...extra,
    }),
  };
}

/** A healthy store: two shared pools (one with an ip range), a local one, endpoints. */
function clean(): StoreEntry[] {
  return [
    ...pool('blue', '10.80.0.0/24'),
    { key: 'pool-nodes/blue/node-b', value: json({ refs: 3, req: 'n9' }) },
    address('blue', '10.80.0.2', 24),
    address('blue', '10.80.0.254', 24, 'node-b'),
    ...pool('kontena', '10.81.0.0/16'),
    address('kontena', '10.81.128.7', 16),
    ...pool('local-6f1c2a44', '10.80.1.0/24', 'node-b'),
  ].map((e) =>
    e.key === 'pools/kontena'
      ? {
          key: e.key,
          value: json({
            subnet: '10.81.0.0/16',
            iprange: '10.81.128.0/17',
            gateway: '10.81.0.1/16',
          }),
        }
      : e,
  );
}

const without = (entries: StoreEntry[], key: string): StoreEntry[] =>
  entries.filter((e) => e.key !== key);
const replace = (entries: StoreEntry[], key: string, value: string): StoreEntry[] =>
  entries.map((e) => (e.key === key ? { key, value } : e));

describe('checkStore', () => {
  it('should find nothing in a healthy store, and count what it holds', () => {
    expect(checkStore(clean())).toEqual({
      counts: {
        pools: 3,
        subnets: 3,
        addresses: 6,
        memberships: 4,
        registrations: 0,
        cleanupPasses: 0,
        other: 0,
      },
      violations: [],
      notes: [],
    });
  });

  it("should accept the running plugins' registrations, and count them", () => {
    const entries = [
      ...clean(),
      registration('node-a', 'b3f0c0de-0000-4000-8000-000000000001'),
      registration('node-b', 'b3f0c0de-0000-4000-8000-000000000002', { host: 'host-b' }),
    ];
    expect(checkStore(entries)).toEqual({
      counts: {
        pools: 3,
        subnets: 3,
        addresses: 6,
        memberships: 4,
        registrations: 2,
        cleanupPasses: 0,
        other: 0,
      },
      violations: [],
      notes: [],
    });
  });

  it("should accept the nodes' last cleanup passes, and count them", () => {
    const pass = { time: '2026-12-07T01:00:00.000Z', revision: '42', freed: 1 };
    const entries = [...clean(), { key: 'cleanup-passes/node-a', value: JSON.stringify(pass) }];
    const result = checkStore(entries);
    expect(result.violations).toEqual([]);
    expect(result.counts.cleanupPasses).toBe(1);
  });

  it('should find nothing in an empty store', () => {
    expect(checkStore([]).violations).toEqual([]);
  });

  it.each<{ name: string; entries: StoreEntry[]; found: [ViolationKind, string][] }>([
    // ------------------------------------------------------------------ keys and values
    {
      name: 'a pool key with a slash in its id',
      entries: [...clean(), { key: 'pools/a/b', value: '{}' }],
      found: [['invalid-key', 'pools/a/b']],
    },
    {
      name: 'a subnet key that is not an address',
      entries: [...clean(), { key: 'subnets/10.80.9', value: '{}' }],
      found: [['invalid-key', 'subnets/10.80.9']],
    },
    {
      name: 'a cleanup pass without a time',
      entries: [...clean(), { key: 'cleanup-passes/node-a', value: '{"freed":1}' }],
      found: [['invalid-value', 'cleanup-passes/node-a']],
    },
    {
      name: 'a cleanup pass of a key that is no NODE_ID',
      entries: [...clean(), { key: 'cleanup-passes/node a', value: '{}' }],
      found: [['invalid-key', 'cleanup-passes/node a']],
    },
    {
      name: 'an address key without an IP',
      entries: [...clean(), { key: 'addresses/blue', value: '{}' }],
      found: [['invalid-key', 'addresses/blue']],
    },
    {
      name: 'an address key with a non-canonical IP',
      entries: [...clean(), address('blue', '10.80.0.07', 24)],
      found: [['invalid-key', 'addresses/blue/10.80.0.07']],
    },
    {
      name: 'a membership key without a node',
      entries: [...clean(), { key: 'pool-nodes/blue/', value: json({ refs: 1 }) }],
      found: [['invalid-key', 'pool-nodes/blue/']],
    },
    {
      name: 'a registration key without an instance',
      entries: [...clean(), { key: 'nodes/node-a', value: json({ started: 1 }) }],
      found: [['invalid-key', 'nodes/node-a']],
    },
    {
      name: 'a registration under something that is not a NODE_ID',
      entries: [...clean(), registration('node a', 'u1')],
      found: [['invalid-key', 'nodes/node a/u1']],
    },
    {
      name: 'a registration value that is not JSON',
      entries: [...clean(), { key: 'nodes/node-a/u1', value: 'alive' }],
      found: [['invalid-value', 'nodes/node-a/u1']],
    },
    {
      name: 'a registration without its lease TTL',
      entries: [...clean(), registration('node-a', 'u1', { ttl: undefined })],
      found: [['invalid-value', 'nodes/node-a/u1']],
    },
    {
      name: 'a registration with a pid that is no process id, and no start time',
      entries: [...clean(), registration('node-a', 'u1', { pid: -1, started: 'soon' })],
      found: [['invalid-value', 'nodes/node-a/u1']],
    },
    {
      name: 'a pool value that is not JSON',
      entries: replace(clean(), 'pools/blue', 'not json'),
      found: [['invalid-value', 'pools/blue']],
    },
    {
      name: 'a pool subnet with host bits',
      entries: replace(
        clean(),
        'pools/blue',
        json({ subnet: '10.80.0.5/24', gateway: '10.80.0.1/24' }),
      ),
      found: [['invalid-value', 'pools/blue']],
    },
    {
      name: 'a pool gateway outside its subnet',
      entries: replace(
        clean(),
        'pools/blue',
        json({ subnet: '10.80.0.0/24', gateway: '10.99.0.1/24' }),
      ),
      found: [['invalid-value', 'pools/blue']],
    },
    {
      name: 'a pool ip range outside its subnet',
      entries: replace(
        clean(),
        'pools/blue',
        json({ subnet: '10.80.0.0/24', iprange: '10.80.0.0/23', gateway: '10.80.0.1/24' }),
      ),
      found: [['invalid-value', 'pools/blue']],
    },
    {
      name: 'a subnet value without its pool',
      entries: replace(clean(), 'subnets/10.80.0.0', json({ address: '10.80.0.0/24' })),
      found: [['invalid-value', 'subnets/10.80.0.0']],
    },
    {
      name: 'a pool whose exclusions lie outside its subnet',
      entries: replace(
        clean(),
        'pools/blue',
        json({ subnet: '10.80.0.0/24', gateway: '10.80.0.1/24', exclude: ['10.81.0.0/28'] }),
      ),
      found: [['invalid-value', 'pools/blue']],
    },
    {
      name: 'an address whose type is not a string',
      entries: replace(
        clean(),
        'addresses/blue/10.80.0.2',
        json({ address: '10.80.0.2/24', node: 'node-a', type: 7 }),
      ),
      found: [['invalid-value', 'addresses/blue/10.80.0.2']],
    },
    {
      name: 'an address whose mac is not a string',
      entries: replace(
        clean(),
        'addresses/blue/10.80.0.2',
        json({ address: '10.80.0.2/24', node: 'node-a', type: 'endpoint', mac: 2 }),
      ),
      found: [['invalid-value', 'addresses/blue/10.80.0.2']],
    },
    {
      name: 'a membership value that is an array',
      entries: replace(clean(), 'pool-nodes/blue/node-b', '[1]'),
      found: [['invalid-value', 'pool-nodes/blue/node-b']],
    },
    // ---------------------------------------------------------------- subnets and pools
    {
      name: 'two pools that overlap',
      // their subnet keys overlap too: one pair, reported once
      entries: [...clean(), ...pool('inner', '10.81.5.0/24')],
      found: [['overlapping-subnets', 'pools/kontena']],
    },
    {
      name: 'an orphan subnet key overlapping a pool',
      entries: [
        ...clean(),
        { key: 'subnets/10.81.5.0', value: json({ address: '10.81.5.0/24', pool: 'ghost' }) },
      ],
      found: [
        ['overlapping-subnets', 'subnets/10.81.0.0'],
        ['subnet-without-pool', 'subnets/10.81.5.0'],
      ],
    },
    {
      name: 'a subnet key of a pool that does not exist',
      entries: [
        ...clean(),
        { key: 'subnets/10.70.0.0', value: json({ address: '10.70.0.0/24', pool: 'ghost' }) },
      ],
      found: [['subnet-without-pool', 'subnets/10.70.0.0']],
    },
    {
      name: 'a subnet key whose key and value disagree',
      entries: [
        ...clean(),
        { key: 'subnets/10.70.0.0', value: json({ address: '10.70.1.0/24', pool: 'ghost' }) },
      ],
      found: [['subnet-mismatch', 'subnets/10.70.0.0']],
    },
    {
      name: 'a subnet key naming a pool with another subnet',
      entries: [
        ...clean(),
        { key: 'subnets/10.70.0.0', value: json({ address: '10.70.0.0/24', pool: 'blue' }) },
      ],
      found: [['subnet-mismatch', 'subnets/10.70.0.0']],
    },
    {
      name: 'a pool without its subnet key',
      entries: without(clean(), 'subnets/10.81.0.0'),
      found: [['pool-without-subnet', 'pools/kontena']],
    },
    {
      name: 'a pool without its gateway address',
      entries: without(clean(), 'addresses/kontena/10.81.0.1'),
      found: [['pool-without-gateway', 'pools/kontena']],
    },
    {
      name: 'a pool whose gateway is stored as an endpoint',
      entries: replace(
        clean(),
        'addresses/kontena/10.81.0.1',
        json({ address: '10.81.0.1/16', node: 'node-a', type: 'endpoint' }),
      ),
      found: [['pool-without-gateway', 'pools/kontena']],
    },
    // -------------------------------------------------------------------------- addresses
    {
      name: 'an address of a pool that does not exist',
      entries: [...clean(), address('ghost', '10.70.0.9', 24)],
      found: [['address-without-pool', 'addresses/ghost/10.70.0.9']],
    },
    {
      name: 'an address outside its pool',
      entries: [...clean(), address('blue', '10.99.0.5', 24)],
      found: [['address-outside-pool', 'addresses/blue/10.99.0.5']],
    },
    {
      name: 'the network address of a pool',
      entries: [...clean(), address('blue', '10.80.0.0', 24)],
      found: [['address-not-host', 'addresses/blue/10.80.0.0']],
    },
    {
      name: 'the broadcast address of a pool',
      entries: [...clean(), address('blue', '10.80.0.255', 24)],
      found: [['address-not-host', 'addresses/blue/10.80.0.255']],
    },
    {
      name: 'an address without an owner',
      entries: replace(clean(), 'addresses/blue/10.80.0.2', json({ address: '10.80.0.2/24' })),
      found: [['address-without-owner', 'addresses/blue/10.80.0.2']],
    },
    {
      name: 'an address recorded with another prefix length',
      entries: [...clean(), address('blue', '10.80.0.9', 16)],
      found: [['address-mismatch', 'addresses/blue/10.80.0.9']],
    },
    // ------------------------------------------------------------------------ memberships
    {
      name: 'a membership of a pool that does not exist',
      entries: [...clean(), { key: 'pool-nodes/gone/node-a', value: json({ refs: 1 }) }],
      found: [['member-without-pool', 'pool-nodes/gone/node-a']],
    },
    {
      name: 'a membership with no references',
      entries: replace(clean(), 'pool-nodes/blue/node-b', json({ refs: 0 })),
      found: [['member-bad-refs', 'pool-nodes/blue/node-b']],
    },
    {
      name: 'a membership without a reference count',
      entries: replace(clean(), 'pool-nodes/blue/node-b', json({ req: 'x' })),
      found: [['member-bad-refs', 'pool-nodes/blue/node-b']],
    },
    {
      name: 'a membership with a fractional reference count',
      entries: replace(clean(), 'pool-nodes/blue/node-b', json({ refs: 1.5 })),
      found: [['member-bad-refs', 'pool-nodes/blue/node-b']],
    },
  ])('should report $name', ({ entries, found }) => {
    const { violations } = checkStore(entries);
    expect(violations.map((v) => [v.kind, v.key])).toEqual(found);
    for (const v of violations) {
      expect(v.message).not.toBe('');
    }
  });

  it('should have a row above for every violation kind', () => {
    // Keeps the table honest when a kind is added: each one must be provoked by some row.
    const provoked = new Set<ViolationKind>();
    const rows: StoreEntry[][] = [
      [{ key: 'pools/a/b', value: '{}' }],
      replace(clean(), 'pools/blue', 'x'),
      [...clean(), ...pool('inner', '10.81.5.0/24')],
      [{ key: 'subnets/10.70.0.0', value: json({ address: '10.70.0.0/24', pool: 'ghost' }) }],
      [
        ...clean(),
        { key: 'subnets/10.70.0.0', value: json({ address: '10.70.1.0/24', pool: 'g' }) },
      ],
      without(clean(), 'subnets/10.81.0.0'),
      without(clean(), 'addresses/kontena/10.81.0.1'),
      [address('ghost', '10.70.0.9', 24)],
      [...clean(), address('blue', '10.99.0.5', 24), address('blue', '10.80.0.0', 24)],
      replace(clean(), 'addresses/blue/10.80.0.2', json({ address: '10.80.0.2/24' })),
      [...clean(), address('blue', '10.80.0.9', 16)],
      [{ key: 'pool-nodes/gone/node-a', value: json({ refs: 0 }) }],
    ];
    for (const row of rows) {
      for (const v of checkStore(row).violations) {
        provoked.add(v.kind);
      }
    }
    expect([...provoked].sort()).toEqual([...VIOLATION_KINDS].sort());
  });

  it('should note a pool without members and a key outside the layout, as no violation', () => {
    const entries = [
      ...without(clean(), 'pool-nodes/local-6f1c2a44/node-b'),
      { key: 'locks/node-a', value: json({ started: 1 }) },
    ];
    const result = checkStore(entries);
    expect(result.violations).toEqual([]);
    expect(result.notes.map((n) => [n.kind, n.key, n.pool])).toEqual([
      ['unknown-key', 'locks/node-a', undefined],
      ['memberless-pool', 'pools/local-6f1c2a44', 'local-6f1c2a44'],
    ]);
    expect(result.counts.other).toBe(1);
  });

  it('should accept aux addresses and MACs, and note a kind it does not know as no violation', () => {
    const entries = [
      ...clean(),
      {
        key: 'addresses/blue/10.80.0.20',
        value: json({ address: '10.80.0.20/24', node: 'node-a', type: 'aux' }),
      },
      {
        key: 'addresses/blue/10.80.0.21',
        value: json({
          address: '10.80.0.21/24',
          node: 'node-b',
          type: 'endpoint',
          mac: '02:42:0a:50:00:15',
        }),
      },
      {
        key: 'addresses/blue/10.80.0.22',
        value: json({ address: '10.80.0.22/24', node: 'node-b', type: 'vip' }),
      },
    ];
    const result = checkStore(entries);
    expect(result.violations).toEqual([]);
    expect(result.notes.map((n) => [n.kind, n.key])).toEqual([
      ['unknown-kind', 'addresses/blue/10.80.0.22'],
    ]);
  });

  it.each([
    {
      name: 'disjoint neighbours',
      subnets: ['10.80.0.0/24', '10.80.1.0/24', '10.80.2.0/23'],
      pairs: 0,
    },
    { name: 'identical subnets', subnets: ['10.80.0.0/24', '10.80.0.0/24'], pairs: 1 },
    {
      name: 'three nested levels',
      subnets: ['10.80.0.0/16', '10.80.16.0/20', '10.80.17.0/24'],
      pairs: 3,
    },
    {
      name: 'a supernet over two siblings, then a disjoint one',
      subnets: ['10.80.0.0/23', '10.80.0.0/24', '10.80.1.0/24', '10.80.2.0/24'],
      pairs: 2,
    },
    {
      name: 'the last subnet of the address space',
      subnets: ['255.255.255.0/24', '255.255.0.0/16'],
      pairs: 1,
    },
  ])('should find every overlapping pair of pools: $name', ({ subnets, pairs }) => {
    const entries = subnets.flatMap((s, i) => pool(`p${i}`, s));
    const overlapping = checkStore(entries).violations.filter(
      (v) => v.kind === 'overlapping-subnets',
    );
    expect(overlapping).toHaveLength(pairs);
  });

  it('should check thousands of pools quickly', () => {
    const entries = Array.from({ length: 4096 }, (_, i) =>
      pool(`p${i}`, `10.${80 + (i >> 8)}.${i & 255}.0/24`),
    ).flat();
    const started = Date.now();
    const result = checkStore(entries);
    expect(result.violations).toEqual([]);
    expect(result.counts.pools).toBe(4096);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

function report(): CheckReport {
  const r: CheckReport = {
    ...emptyCheckReport('/kontena/ipam'),
    ...checkStore([
      ...without(clean(), 'pool-nodes/local-6f1c2a44/node-b'),
      { key: 'pool-nodes/gone/node-a', value: json({ refs: 1 }) },
    ]),
    revision: '4711',
  };
  r.ok = r.violations.length === 0;
  return r;
}

describe('check report', () => {
  it('should print one line per violation and note, then the summary', () => {
    expect(renderCheckText(report())).toEqual([
      'violation member-without-pool: node node-a is a member of pool gone, which does not exist [pool-nodes/gone/node-a]',
      'note memberless-pool: pool local-6f1c2a44 (10.80.1.0/24) has no member node: a cleanup pass deletes it',
      'check of etcd prefix /kontena/ipam at revision 4711: 3 pools, 3 subnets, 6 addresses, 4 memberships; 1 violation, 1 note (INCONSISTENT)',
    ]);
  });

  it('should say consistent when nothing is wrong', () => {
    const r = { ...emptyCheckReport('/p'), ...checkStore(clean()), revision: '7', ok: true };
    expect(renderCheckText(r)).toEqual([
      'check of etcd prefix /p at revision 7: 3 pools, 3 subnets, 6 addresses, 4 memberships; 0 violations, 0 notes (consistent)',
    ]);
  });

  it('should name the registrations when there are any', () => {
    const entries = [...clean(), registration('node-a', 'u1')];
    const r = { ...emptyCheckReport('/p'), ...checkStore(entries), revision: '8', ok: true };
    expect(renderCheckText(r)).toEqual([
      'check of etcd prefix /p at revision 8: 3 pools, 3 subnets, 6 addresses, 4 memberships, 1 registration; 0 violations, 0 notes (consistent)',
    ]);
  });

  it('should say why when the store could not be read', () => {
    const r = { ...emptyCheckReport('/p'), error: 'etcd is unreachable at http://127.0.0.1:1: x' };
    expect(renderCheckText(r)).toEqual([
      'check of etcd prefix /p: FAILED: etcd is unreachable at http://127.0.0.1:1: x',
    ]);
  });

  it('should give the same report as one JSON object', () => {
    const parsed = JSON.parse(renderCheckJson(report())) as CheckReport;
    expect(parsed).toEqual(report());
    expect(Object.keys(parsed)).toEqual(
      expect.arrayContaining(['ok', 'mode', 'prefix', 'revision', 'counts', 'violations', 'notes']),
    );
    expect(parsed.ok).toBe(false);
    expect(parsed.violations[0]).toEqual({
      kind: 'member-without-pool',
      key: 'pool-nodes/gone/node-a',
      pool: 'gone',
      message: expect.stringContaining('pool gone') as string,
    });
  });
});

/** What the plugin writes for a dual-stack network's IPv6 pool `NAME:v6` in fd00:1::/64. */
function v6Pool(id = 'dual:v6', node = 'node-a'): StoreEntry[] {
  return [
    { key: `pools/${id}`, value: json({ subnet: 'fd00:1::/64', gateway: 'fd00:1::1/64' }) },
    {
      key: 'subnets/fd000001000000000000000000000000',
      value: json({ address: 'fd00:1::/64', pool: id }),
    },
    {
      key: `addresses/${id}/fd00:1::1`,
      value: json({ address: 'fd00:1::1/64', node, type: 'gateway' }),
    },
    { key: `pool-nodes/${id}/${node}`, value: json({ refs: 1 }) },
    address(id, 'fd00:1::6657:0:0:1', 64),
    address(id, 'fd00:1::ffff:ffff:ffff:ffff', 64), // no broadcast in IPv6
  ];
}

describe('checkStore with IPv6 pools', () => {
  it('should find nothing in a healthy dual-stack store, and note the cluster supernet', () => {
    const entries = [
      ...pool('dual', '10.80.0.0/24'),
      ...v6Pool(),
      { key: 'supernet6', value: json({ supernet: 'fd00::/48', req: 'n1' }) },
    ];
    const found = checkStore(entries);
    expect(found.violations).toEqual([]);
    expect(found.notes).toEqual([
      {
        kind: 'supernet6',
        key: 'supernet6',
        message:
          "the cluster's IPv6 supernet is fd00::/48 (dynamic IPv6 pools of nodes without KONTENA_IPAM_SUPERNET6)",
      },
    ]);
    expect(found.counts).toMatchObject({ pools: 2, subnets: 2, addresses: 4 });
  });

  it.each<{ name: string; entries: StoreEntry[]; found: [ViolationKind, string][] }>([
    {
      name: 'a subnet key in RFC 5952 text instead of hex digits',
      entries: [
        ...without(v6Pool(), 'subnets/fd000001000000000000000000000000'),
        { key: 'subnets/fd00:1::', value: json({ address: 'fd00:1::/64', pool: 'dual:v6' }) },
      ],
      found: [
        ['pool-without-subnet', 'pools/dual:v6'],
        ['invalid-key', 'subnets/fd00:1::'],
      ],
    },
    {
      name: 'an address key not in RFC 5952 text',
      entries: [...v6Pool(), address('dual:v6', 'fd00:1:0:0::5', 64)],
      found: [['invalid-key', 'addresses/dual:v6/fd00:1:0:0::5']],
    },
    {
      name: 'the subnet-router anycast address held',
      entries: [...v6Pool(), address('dual:v6', 'fd00:1::', 64)],
      found: [['address-not-host', 'addresses/dual:v6/fd00:1::']],
    },
    {
      name: 'overlapping IPv6 pools',
      entries: [
        ...v6Pool(),
        {
          key: 'pools/other:v6',
          value: json({ subnet: 'fd00:1:0:0:1::/80', gateway: 'fd00:1::1:0:0:1/80' }),
        },
        {
          key: 'subnets/fd000001000000000001000000000000',
          value: json({ address: 'fd00:1:0:0:1::/80', pool: 'other:v6' }),
        },
        {
          key: 'addresses/other:v6/fd00:1::1:0:0:1',
          value: json({ address: 'fd00:1::1:0:0:1/80', node: 'node-a', type: 'gateway' }),
        },
        { key: 'pool-nodes/other:v6/node-a', value: json({ refs: 1 }) },
      ],
      found: [['overlapping-subnets', 'pools/dual:v6']],
    },
    {
      name: 'a supernet6 that is IPv4',
      entries: [...v6Pool(), { key: 'supernet6', value: json({ supernet: '10.0.0.0/8' }) }],
      found: [['invalid-value', 'supernet6']],
    },
  ])('should find $name', ({ entries, found }) => {
    expect(checkStore(entries).violations.map((v) => [v.kind, v.key])).toEqual(found);
  });
});
