import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Addr, Prefix } from '#app/net';
import { KeyLayout } from './keys.js';
import { parseSubnetKeyName, subnetKeyName, v6OverlapFence } from './subnet-keys.js';

const S = '/p/subnets/';
const keys = new KeyLayout('/p');

const v6 = (value: bigint): Addr => Addr.fromBigInt(6, value);
const anyV6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
/** An IPv6 pool as the allocator accepts them: /48 to /120, no host bits. */
const anyV6Pool = fc
  .tuple(anyV6, fc.integer({ min: 48, max: 120 }))
  .map(([value, length]) => Prefix.of(v6(value), length).masked());

describe('subnetKeyName', () => {
  it.each([
    { name: 'IPv4 keeps the dotted quad', subnet: '10.80.0.0/24', key: '10.80.0.0' },
    { name: 'IPv4 host bits dropped', subnet: '10.80.0.7/24', key: '10.80.0.0' },
    { name: 'IPv6 zero network', subnet: '::/64', key: '0'.repeat(32) },
    {
      name: 'IPv6 ULA /64',
      subnet: 'fd12:3456:789a:1::/64',
      key: 'fd123456789a00010000000000000000',
    },
    {
      name: 'IPv6 all ones /120',
      subnet: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120',
      key: `${'f'.repeat(30)}00`,
    },
  ])('$name: $subnet', ({ subnet, key }) => {
    expect(subnetKeyName(Prefix.parse(subnet))).toBe(key);
  });

  it('should sort IPv6 keys as text exactly as their networks sort as numbers', () => {
    fc.assert(
      fc.property(anyV6, anyV6, (a, b) => {
        const ka = subnetKeyName(Prefix.of(v6(a), 128));
        const kb = subnetKeyName(Prefix.of(v6(b), 128));
        // etcd orders keys by their bytes, as `<` orders ASCII strings.
        expect(ka < kb).toBe(a < b);
        expect(ka === kb).toBe(a === b);
      }),
    );
  });

  it('should read back what it writes, in both families', () => {
    fc.assert(
      fc.property(anyV6, (a) => {
        const name = subnetKeyName(Prefix.of(v6(a), 128));
        expect(parseSubnetKeyName(name)?.equals(v6(a))).toBe(true);
      }),
    );
    expect(parseSubnetKeyName('10.80.0.0')?.toString()).toBe('10.80.0.0');
  });

  it.each(['fd12::', 'FD123456789A00010000000000000000', 'fd12', '010.80.0.0', '10.80.0', ''])(
    'should refuse a name it never writes: %j',
    (name) => {
      expect(parseSubnetKeyName(name)).toBeUndefined();
    },
  );
});

describe('RFC 5952 address keys', () => {
  it('should spell each address one way, and read it back', () => {
    fc.assert(
      fc.property(anyV6, (a) => {
        const text = v6(a).toString();
        expect(Addr.parse(text).value).toBe(a);
        expect(Addr.parse(text).toString()).toBe(text);
        expect(text).toBe(text.toLowerCase());
        expect(text).not.toMatch(/(^|:)0[0-9a-f]/); // no leading zeros in a group
      }),
    );
  });
});

describe('KeyLayout.subnetOverlapFence for IPv6', () => {
  it.each([
    {
      name: 'a /64: its 16 digits, the /48 to /63 masks all equal to its own',
      subnet: 'fd12:3456:789a::/64',
      prefix: 'fd123456789a0000',
      around: [],
    },
    {
      name: 'a /64 with bits in its fourth group: the masks that clear them',
      subnet: 'fd12:3456:789a:3::/64',
      prefix: 'fd123456789a0003',
      around: ['fd123456789a00020000000000000000', 'fd123456789a00000000000000000000'],
    },
    {
      name: 'a /50 rounds down to 12 digits: the /48 is inside that range',
      subnet: 'fd12:3456:789a:c000::/50',
      prefix: 'fd123456789a',
      around: [],
    },
  ])('$name', ({ subnet, prefix, around }) => {
    const fence = keys.subnetOverlapFence(Prefix.parse(subnet));
    expect(fence.prefix).toBe(`${S}${prefix}`);
    expect(new Set(fence.keys)).toEqual(new Set(around.map((n) => `${S}${n}`)));
  });

  it('should fence every key of a pool that overlaps it, and no IPv4 key', () => {
    fc.assert(
      fc.property(anyV6Pool, anyV6Pool, (a, b) => {
        const fence = v6OverlapFence(a);
        const name = subnetKeyName(b);
        const isFenced = name.startsWith(fence.prefix) || fence.names.includes(name);
        // An overlapping pool's key is always fenced (others may be: the fence over-approximates).
        expect(isFenced || !a.overlaps(b)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // Nested pools, the case random pairs rarely hit.
    fc.assert(
      fc.property(anyV6Pool, fc.integer({ min: 48, max: 120 }), (a, l) => {
        const b = Prefix.of(a.addr, l).masked();
        const fence = v6OverlapFence(a);
        const name = subnetKeyName(b);
        expect(name.startsWith(fence.prefix) || fence.names.includes(name)).toBe(true);
      }),
    );
    const fence = keys.subnetOverlapFence(Prefix.parse('fd00::/48'));
    expect(`${S}10.80.0.0`.startsWith(fence.prefix)).toBe(false);
  });

  it('should compare few keys: at most one per length from /48', () => {
    fc.assert(
      fc.property(anyV6Pool, (a) => {
        expect(v6OverlapFence(a).names.length).toBeLessThanOrEqual(Math.max(0, a.length - 48));
      }),
    );
  });
});
