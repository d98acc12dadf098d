import { describe, expect, it } from 'vitest';
import { Prefix } from '#app/net';
import { KeyLayout } from './keys.js';

const keys = new KeyLayout('/p');
const S = '/p/subnets/';

// For the sweep below: a key that could hold an overlapping subnet must always be fenced (the
// compare then catches its write).
const fenced = (fence: { prefix: string; keys: string[] }, key: string): boolean =>
  key.startsWith(fence.prefix) || fence.keys.includes(key);
const toInt = (ip: string): number =>
  ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) >>> 0;
const toIp = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const mask = (l: number): number => (l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0);

describe('KeyLayout.subnetOverlapFence', () => {
  it.each([
    {
      name: 'an octet-aligned /24: its own octets, and the masks around it off that prefix',
      network: '10.80.100.0',
      length: 24,
      prefix: `${S}10.80.100.`,
      around: [
        '10.80.96.0',
        '10.80.64.0',
        '10.80.0.0',
        '10.64.0.0',
        '10.0.0.0',
        '8.0.0.0',
        '0.0.0.0',
      ],
    },
    {
      name: 'a /20: rounded down to its two whole octets',
      network: '10.80.16.0',
      length: 20,
      prefix: `${S}10.80.`,
      around: ['10.64.0.0', '10.0.0.0', '8.0.0.0', '0.0.0.0'],
    },
    {
      name: 'a /12 with high bits in its second octet',
      network: '172.16.0.0',
      length: 12,
      prefix: `${S}172.`,
      around: ['168.0.0.0', '160.0.0.0', '128.0.0.0', '0.0.0.0'],
    },
    {
      name: 'a /7 has no whole octet: every subnet key',
      network: '10.0.0.0',
      length: 7,
      prefix: S,
      around: [],
    },
    {
      name: 'a /32: its last octet is not a key prefix, so the fence is its /24',
      network: '192.168.1.77',
      length: 32,
      prefix: `${S}192.168.1.`,
      around: ['192.168.0.0', '192.160.0.0', '192.128.0.0', '192.0.0.0', '128.0.0.0', '0.0.0.0'],
    },
  ])('$name', ({ network, length, prefix, around }) => {
    const fence = keys.subnetOverlapFence(Prefix.parse(`${network}/${length}`));
    expect(fence.prefix).toBe(prefix);
    expect(new Set(fence.keys)).toEqual(new Set(around.map((n) => `${S}${n}`)));
  });

  it.each([
    ['10.80.100.0', 24],
    ['10.80.16.0', 20],
    ['10.96.0.0', 11],
    ['192.168.1.128', 25],
    ['192.168.1.77', 32],
  ] as const)('should fence every key of a subnet overlapping %s/%i', (network, length) => {
    const fence = keys.subnetOverlapFence(Prefix.parse(`${network}/${length}`));
    const base = toInt(network);
    // Around it: every shorter (or equal) mask of its network address.
    for (let l = 0; l <= length; l++) {
      expect(fenced(fence, `${S}${toIp((base & mask(l)) >>> 0)}`)).toBe(true);
    }
    // Inside it: sample network addresses across the whole range, at every longer length.
    const size = 2 ** (32 - length);
    for (let i = 0; i < 512; i++) {
      const inside = (base + Math.floor((i * size) / 512)) >>> 0;
      for (let l = length; l <= 32; l++) {
        expect(fenced(fence, `${S}${toIp((inside & mask(l)) >>> 0)}`)).toBe(true);
      }
    }
  });

  it('should leave out a sibling /24 that cannot overlap', () => {
    const fence = keys.subnetOverlapFence(Prefix.parse('10.80.100.0/24'));
    expect(fenced(fence, `${S}10.80.101.0`)).toBe(false);
    expect(fenced(fence, `${S}10.80.10.0`)).toBe(false);
    expect(fenced(fence, `${S}10.81.0.0`)).toBe(false);
  });
});

describe('KeyLayout.parse', () => {
  it.each([
    { name: 'outside the prefix', key: '/q/pools/blue', parsed: { kind: 'other' } },
    { name: 'the prefix itself', key: '/p/', parsed: { kind: 'other' } },
    {
      name: 'a directory of nothing',
      key: '/p/nodes/',
      parsed: { kind: 'malformed', dir: 'nodes' },
    },
    {
      name: 'a registration without instance',
      key: '/p/nodes/node-1',
      parsed: { kind: 'malformed', dir: 'nodes' },
    },
    {
      name: 'a registration one level too deep',
      key: '/p/nodes/node-1/u/x',
      parsed: { kind: 'malformed', dir: 'nodes' },
    },
    { name: 'a pool', key: '/p/pools/blue', parsed: { kind: 'pool', id: 'blue' } },
    {
      name: 'a subnet',
      key: '/p/subnets/10.80.1.0',
      parsed: { kind: 'subnet', network: '10.80.1.0' },
    },
    {
      name: 'an address',
      key: '/p/addresses/blue/10.80.1.7',
      parsed: { kind: 'address', pool: 'blue', ip: '10.80.1.7' },
    },
    {
      name: 'a membership',
      key: '/p/pool-nodes/blue/node-1',
      parsed: { kind: 'member', pool: 'blue', node: 'node-1' },
    },
    {
      name: 'a registration',
      key: keys.registration('node-1', '2b1c'),
      parsed: { kind: 'registration', node: 'node-1', instance: '2b1c' },
    },
    { name: 'another directory', key: '/p/locks/x', parsed: { kind: 'other' } },
  ])('$name: $key', ({ key, parsed }) => {
    expect(keys.parse(key)).toEqual(parsed);
  });
});
