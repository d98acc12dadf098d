import { describe, expect, it } from 'vitest';

import { Addr, type Family } from './addr.js';
import { NetParseError } from './errors.js';

const MAX_V4 = (1n << 32n) - 1n;
const MAX_V6 = (1n << 128n) - 1n;

// oxlint-disable-next-line vitest/valid-title -- X.name keeps the title in step with renames
describe(Addr.name, () => {
  describe('parse', () => {
    const ok: { name: string; input: string; family: Family; value: bigint; str: string }[] = [
      { name: 'v4 zero', input: '0.0.0.0', family: 4, value: 0n, str: '0.0.0.0' },
      {
        name: 'v4 max',
        input: '255.255.255.255',
        family: 4,
        value: MAX_V4,
        str: '255.255.255.255',
      },
      { name: 'v4 plain', input: '10.80.0.1', family: 4, value: 0x0a500001n, str: '10.80.0.1' },
      { name: 'v4 zero octets', input: '10.0.0.0', family: 4, value: 0x0a000000n, str: '10.0.0.0' },
      { name: 'v6 unspecified', input: '::', family: 6, value: 0n, str: '::' },
      { name: 'v6 unspecified long', input: '0:0:0:0:0:0:0:0', family: 6, value: 0n, str: '::' },
      { name: 'v6 loopback', input: '::1', family: 6, value: 1n, str: '::1' },
      {
        name: 'v6 max',
        input: 'FFFF:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        family: 6,
        value: MAX_V6,
        str: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      },
      {
        name: 'v6 uppercase',
        input: '2001:DB8::1',
        family: 6,
        value: 0x20010db8000000000000000000000001n,
        str: '2001:db8::1',
      },
      {
        name: 'v6 fully expanded with leading zeros',
        input: '2001:0db8:0000:0000:0000:0000:0000:0001',
        family: 6,
        value: 0x20010db8000000000000000000000001n,
        str: '2001:db8::1',
      },
      {
        name: 'v6 trailing ::',
        input: '1:2:3:4:5:6:7::',
        family: 6,
        value: 0x00010002000300040005000600070000n,
        str: '1:2:3:4:5:6:7:0',
      },
      {
        name: 'v6 longest zero run compressed',
        input: '1:0:0:1:0:0:0:1',
        family: 6,
        value: 0x00010000000000010000000000000001n,
        str: '1:0:0:1::1',
      },
      {
        name: 'v6 first zero run wins a tie',
        input: '1:0:0:2:0:0:3:4',
        family: 6,
        value: 0x00010000000000020000000000030004n,
        str: '1::2:0:0:3:4',
      },
      {
        name: 'v6 single zero group not compressed',
        input: '1:0:2:3:4:5:6:7',
        family: 6,
        value: 0x00010000000200030004000500060007n,
        str: '1:0:2:3:4:5:6:7',
      },
      {
        name: 'v6 link-local',
        input: 'fe80::',
        family: 6,
        value: 0xfe800000000000000000000000000000n,
        str: 'fe80::',
      },
      {
        name: 'v6 IPv4-mapped stays IPv6',
        input: '::ffff:1.2.3.4',
        family: 6,
        value: 0xffff01020304n,
        str: '::ffff:1.2.3.4',
      },
      {
        name: 'v6 IPv4-mapped in hex',
        input: '::FFFF:0102:0304',
        family: 6,
        value: 0xffff01020304n,
        str: '::ffff:1.2.3.4',
      },
      {
        name: 'v6 IPv4-compatible printed as hex',
        input: '::1.2.3.4',
        family: 6,
        value: 0x01020304n,
        str: '::102:304',
      },
      {
        name: 'v6 embedded dotted quad after groups',
        input: '64:ff9b::192.0.2.33',
        family: 6,
        value: 0x0064ff9b0000000000000000c0000221n,
        str: '64:ff9b::c000:221',
      },
    ];

    it.each(ok)('$name', ({ input, family, value, str }) => {
      const a = Addr.parse(input);
      expect(a.family).toBe(family);
      expect(a.value).toBe(value);
      expect(a.bits).toBe(family === 4 ? 32 : 128);
      expect(a.toString()).toBe(str);
      expect(Addr.tryParse(input)?.equals(a)).toBe(true);
      // canonical text round-trips to the same address
      expect(Addr.parse(str).equals(a)).toBe(true);
    });

    const bad: { name: string; input: string }[] = [
      { name: 'empty', input: '' },
      { name: 'space', input: ' ' },
      { name: 'leading whitespace', input: ' 10.0.0.1' },
      { name: 'trailing newline', input: '10.0.0.1\n' },
      { name: 'v4 three octets', input: '10.0.0' },
      { name: 'v4 two octets', input: '10.1' },
      { name: 'v4 five octets', input: '1.2.3.4.5' },
      { name: 'v4 octet 256', input: '10.0.0.256' },
      { name: 'v4 octet 300', input: '10.0.0.300' },
      { name: 'v4 leading zero', input: '01.2.3.4' },
      { name: 'v4 octal-looking', input: '10.010.0.1' },
      { name: 'v4 hex', input: '0x0a.0.0.1' },
      { name: 'v4 empty octet', input: '1..2.3' },
      { name: 'v4 negative octet', input: '-1.2.3.4' },
      { name: 'v4 single integer', input: '167772161' },
      { name: 'v4 non-ascii digits', input: '١.2.3.4' },
      { name: 'v4 with prefix', input: '1.2.3.4/32' },
      { name: 'v6 zone', input: 'fe80::1%eth0' },
      { name: 'v6 empty zone', input: 'fe80::1%' },
      { name: 'v6 brackets', input: '[::1]' },
      { name: 'v6 two ::', input: '1::2::3' },
      { name: 'v6 :::', input: ':::' },
      { name: 'v6 nine groups', input: '1:2:3:4:5:6:7:8:9' },
      { name: 'v6 :: plus eight groups', input: '::1:2:3:4:5:6:7:8' },
      { name: 'v6 five hex digits', input: '12345::' },
      { name: 'v6 bad hex', input: '::g' },
      { name: 'v6 leading single colon', input: ':1::' },
      { name: 'v6 trailing single colon', input: '1::2:' },
      { name: 'v6 embedded v4 leading zero', input: '::ffff:01.2.3.4' },
      { name: 'v6 embedded v4 hex', input: '::ffff:0x1.2.3.4' },
      { name: 'v6 embedded v4 short', input: '::ffff:1.2.3' },
      { name: 'v6 embedded v4 not last', input: '::1.2.3.4:5' },
      { name: 'v6 with prefix', input: '::1/128' },
      { name: 'word', input: 'hello' },
    ];

    it.each(bad)('rejects $name', ({ input }) => {
      expect(Addr.tryParse(input)).toBeUndefined();
      expect(() => Addr.parse(input)).toThrow(NetParseError);
      expect(() => Addr.parse(input)).toThrow(`invalid IP address ${JSON.stringify(input)}`);
      expect(() => Addr.parse(input)).toThrow(expect.objectContaining({ input }));
    });

    it('names the input in the message', () => {
      expect(() => Addr.parse('10.0.0.300')).toThrow('invalid IP address "10.0.0.300"');
      expect(() => Addr.parse('fe80::1%eth0')).toThrow(
        'invalid IP address "fe80::1%eth0": zone identifiers are not supported',
      );
    });
  });

  describe('fromBigInt', () => {
    const ok: { name: string; family: Family; value: bigint; str: string }[] = [
      { name: 'v4 zero', family: 4, value: 0n, str: '0.0.0.0' },
      { name: 'v4 max', family: 4, value: MAX_V4, str: '255.255.255.255' },
      { name: 'v6 zero', family: 6, value: 0n, str: '::' },
      { name: 'v6 value above v4 range', family: 6, value: MAX_V4 + 1n, str: '::1:0:0' },
      { name: 'v6 max', family: 6, value: MAX_V6, str: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
    ];
    it.each(ok)('$name', ({ family, value, str }) => {
      const a = Addr.fromBigInt(family, value);
      expect(a.family).toBe(family);
      expect(a.value).toBe(value);
      expect(a.toString()).toBe(str);
    });

    const bad: { name: string; family: Family; value: bigint }[] = [
      { name: 'v4 negative', family: 4, value: -1n },
      { name: 'v4 2^32', family: 4, value: MAX_V4 + 1n },
      { name: 'v6 negative', family: 6, value: -1n },
      { name: 'v6 2^128', family: 6, value: MAX_V6 + 1n },
    ];
    it.each(bad)('rejects $name', ({ family, value }) => {
      expect(() => Addr.fromBigInt(family, value)).toThrow(RangeError);
    });

    it('rejects an unknown family from untyped callers', () => {
      // Method syntax is bivariant, so this widens `family` without a type assertion.
      const untyped: { fromBigInt(family: number, value: bigint): Addr } = Addr;
      expect(() => untyped.fromBigInt(5, 0n)).toThrow(RangeError);
    });
  });

  describe('equals and compare', () => {
    const cases: { name: string; a: string; b: string; want: number }[] = [
      { name: 'v4 same', a: '10.0.0.1', b: '10.0.0.1', want: 0 },
      { name: 'v6 same, different spelling', a: '2001:db8::1', b: '2001:DB8:0:0::0001', want: 0 },
      { name: 'v4 by value', a: '10.0.0.1', b: '10.0.0.2', want: -1 },
      { name: 'v4 octets compare numerically', a: '9.255.255.255', b: '10.0.0.0', want: -1 },
      { name: 'v6 by value', a: '::1', b: '::2', want: -1 },
      { name: 'v4 zero before v6 zero', a: '0.0.0.0', b: '::', want: -1 },
      { name: 'v4 max before v6 zero', a: '255.255.255.255', b: '::', want: -1 },
      { name: 'v4 vs its IPv4-mapped form', a: '1.2.3.4', b: '::ffff:1.2.3.4', want: -1 },
    ];
    it.each(cases)('$name', ({ a, b, want }) => {
      const x = Addr.parse(a);
      const y = Addr.parse(b);
      expect(x.compare(y)).toBe(want);
      expect(y.compare(x)).toBe(-want || 0);
      expect(x.equals(y)).toBe(want === 0);
      expect(y.equals(x)).toBe(want === 0);
    });
  });

  describe('add', () => {
    const cases: { name: string; a: string; n: bigint; want: string | undefined }[] = [
      { name: 'v4 max + 1 overflows', a: '255.255.255.255', n: 1n, want: undefined },
      { name: 'v4 zero - 1 underflows', a: '0.0.0.0', n: -1n, want: undefined },
      { name: 'v4 + 2^32 overflows', a: '0.0.0.0', n: 1n << 32n, want: undefined },
      { name: 'v4 zero + max', a: '0.0.0.0', n: MAX_V4, want: '255.255.255.255' },
      { name: 'v4 max - max', a: '255.255.255.255', n: -MAX_V4, want: '0.0.0.0' },
      {
        name: 'v6 max + 1 overflows',
        a: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        n: 1n,
        want: undefined,
      },
      { name: 'v6 zero - 1 underflows', a: '::', n: -1n, want: undefined },
      { name: 'v6 does not stop at v4 range', a: '::ffff:ffff', n: 1n, want: '::1:0:0' },
      { name: 'v4 carry into next octet', a: '10.0.0.255', n: 1n, want: '10.0.1.0' },
      { name: 'v4 zero offset', a: '1.2.3.4', n: 0n, want: '1.2.3.4' },
      { name: 'v6 backwards', a: '::1', n: -1n, want: '::' },
      { name: 'v6 carry into next group', a: '2001:db8::ffff', n: 1n, want: '2001:db8::1:0' },
    ];
    it.each(cases)('$name', ({ a, n, want }) => {
      const x = Addr.parse(a);
      const got = x.add(n);
      expect(got?.toString()).toBe(want);
      expect(got?.family ?? x.family).toBe(x.family);
    });
  });
});
