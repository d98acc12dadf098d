import { describe, expect, it } from 'vitest';

import { Addr, type Family } from './addr.js';
import { NetParseError } from './errors.js';
import { Prefix, intervalOf } from './prefix.js';

const P = (s: string): Prefix => Prefix.parse(s);
const A = (s: string): Addr => Addr.parse(s);
const V6_LAST = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// oxlint-disable-next-line vitest/valid-title -- X.name keeps the title in step with renames
describe(Prefix.name, () => {
  describe('parse', () => {
    const ok: { name: string; input: string; family: Family; addr: string; length: number }[] = [
      { name: 'v4 /0', input: '0.0.0.0/0', family: 4, addr: '0.0.0.0', length: 0 },
      { name: 'v4 /31', input: '10.0.0.0/31', family: 4, addr: '10.0.0.0', length: 31 },
      { name: 'v4 /32', input: '1.2.3.4/32', family: 4, addr: '1.2.3.4', length: 32 },
      {
        name: 'v4 host bits kept',
        input: '10.80.0.1/24',
        family: 4,
        addr: '10.80.0.1',
        length: 24,
      },
      { name: 'v6 /0', input: '::/0', family: 6, addr: '::', length: 0 },
      { name: 'v6 /127', input: '2001:DB8::1/127', family: 6, addr: '2001:db8::1', length: 127 },
      { name: 'v6 /128', input: '::1/128', family: 6, addr: '::1', length: 128 },
      { name: 'v6 /64', input: '2001:db8:0:1::/64', family: 6, addr: '2001:db8:0:1::', length: 64 },
      {
        name: 'v6 IPv4-mapped is IPv6',
        input: '::ffff:10.0.0.0/104',
        family: 6,
        addr: '::ffff:10.0.0.0',
        length: 104,
      },
    ];
    it.each(ok)('$name', ({ input, family, addr, length }) => {
      const p = Prefix.parse(input);
      expect(p.family).toBe(family);
      expect(p.addr.toString()).toBe(addr);
      expect(p.length).toBe(length);
      expect(p.toString()).toBe(`${addr}/${length}`);
      expect(Prefix.tryParse(input)?.equals(p)).toBe(true);
      expect(Prefix.parse(p.toString()).equals(p)).toBe(true);
    });

    const bad: { name: string; input: string; message?: string }[] = [
      { name: 'empty', input: '' },
      { name: 'space', input: ' ' },
      { name: 'bare v4 address', input: '1.2.3.4', message: 'missing "/"' },
      { name: 'bare v6 address', input: '2001:db8::', message: 'missing "/"' },
      { name: 'missing length', input: '1.2.3.4/', message: 'missing prefix length' },
      { name: 'missing address', input: '/8', message: 'invalid IP address ""' },
      {
        name: 'v4 /33',
        input: '10.0.0.0/33',
        message: 'invalid CIDR prefix "10.0.0.0/33": prefix length must be 0-32 for IPv4',
      },
      { name: 'v4 /33 on host', input: '1.2.3.4/33', message: 'must be 0-32 for IPv4' },
      {
        name: 'v6 /129',
        input: '::/129',
        message: 'invalid CIDR prefix "::/129": prefix length must be 0-128 for IPv6',
      },
      { name: 'v4 huge length', input: '1.2.3.4/99999999999999999999', message: 'must be 0-32' },
      { name: 'negative length', input: '1.2.3.4/-1', message: 'not a decimal integer' },
      { name: 'fractional length', input: '1.2.3.4/1.5', message: 'not a decimal integer' },
      { name: 'leading zero length', input: '1.2.3.4/08', message: 'not a decimal integer' },
      { name: 'plus sign length', input: '1.2.3.4/+8', message: 'not a decimal integer' },
      { name: 'hex length', input: '1.2.3.4/0x8', message: 'not a decimal integer' },
      { name: 'space after slash', input: '1.2.3.4/ 8', message: 'not a decimal integer' },
      { name: 'space before slash', input: '1.2.3.4 /8', message: 'invalid IP address' },
      { name: 'trailing space', input: '1.2.3.4/8 ', message: 'not a decimal integer' },
      { name: 'two slashes', input: '1.2.3.4/8/8', message: 'not a decimal integer' },
      { name: 'netmask instead of length', input: '10.0.0.0/255.0.0.0' },
      { name: 'short v4', input: '10.0.0/24', message: 'invalid IP address "10.0.0"' },
      { name: 'two-part v4', input: '10.80/12', message: 'invalid IP address "10.80"' },
      { name: 'hex v4 octet', input: '0xa.80.0.0/12', message: 'invalid IP address' },
      { name: 'leading space', input: ' 10.80.0.0/12', message: 'invalid IP address' },
      { name: 'v4 octet 256', input: '10.0.0.256/24', message: 'invalid IP address' },
      { name: 'v4 leading zero', input: '01.2.3.4/8', message: 'invalid IP address' },
      { name: 'v6 zone', input: 'fe80::1%eth0/64', message: 'zone identifiers' },
      { name: 'zone in bare address', input: 'fe80::1%eth0' },
      { name: 'word', input: 'hello' },
    ];
    it.each(bad)('rejects $name', ({ input, message }) => {
      expect(Prefix.tryParse(input)).toBeUndefined();
      const err = thrown(() => Prefix.parse(input));
      expect(err).toBeInstanceOf(NetParseError);
      expect(err).toHaveProperty('input', input);
      expect(err).toHaveProperty(
        'message',
        expect.stringMatching(`^invalid CIDR prefix ${escapeRegExp(JSON.stringify(input))}: `),
      );
      expect(err).toHaveProperty('message', expect.stringContaining(message ?? ''));
    });
  });

  describe('of', () => {
    const ok: { name: string; addr: string; length: number; want: string }[] = [
      { name: 'v4 /0', addr: '10.1.2.3', length: 0, want: '10.1.2.3/0' },
      { name: 'v4 /32', addr: '10.1.2.3', length: 32, want: '10.1.2.3/32' },
      { name: 'v6 /0', addr: '::1', length: 0, want: '::1/0' },
      { name: 'v6 /128', addr: '::1', length: 128, want: '::1/128' },
    ];
    it.each(ok)('$name', ({ addr, length, want }) => {
      expect(Prefix.of(A(addr), length).toString()).toBe(want);
    });

    const bad: { name: string; addr: string; length: number }[] = [
      { name: 'v4 negative', addr: '10.0.0.0', length: -1 },
      { name: 'v4 /33', addr: '10.0.0.0', length: 33 },
      { name: 'v6 /129', addr: '::', length: 129 },
      { name: 'fraction', addr: '10.0.0.0', length: 1.5 },
      { name: 'NaN', addr: '::', length: Number.NaN },
      { name: 'Infinity', addr: '::', length: Number.POSITIVE_INFINITY },
    ];
    it.each(bad)('rejects $name', ({ addr, length }) => {
      expect(() => Prefix.of(A(addr), length)).toThrow(RangeError);
    });
  });

  describe('masking', () => {
    const cases: { name: string; p: string; hostBits: boolean; masked: string }[] = [
      { name: 'v4 /0 with host bits', p: '10.1.2.3/0', hostBits: true, masked: '0.0.0.0/0' },
      { name: 'v4 /0 zero', p: '0.0.0.0/0', hostBits: false, masked: '0.0.0.0/0' },
      { name: 'v4 /31 odd', p: '10.0.0.1/31', hostBits: true, masked: '10.0.0.0/31' },
      { name: 'v4 /32 never', p: '10.0.0.1/32', hostBits: false, masked: '10.0.0.1/32' },
      { name: 'v4 /24 host', p: '10.80.0.77/24', hostBits: true, masked: '10.80.0.0/24' },
      { name: 'v4 /24 network', p: '10.80.0.0/24', hostBits: false, masked: '10.80.0.0/24' },
      { name: 'v6 /0 max', p: `${V6_LAST}/0`, hostBits: true, masked: '::/0' },
      { name: 'v6 /127 odd', p: '2001:db8::1/127', hostBits: true, masked: '2001:db8::/127' },
      { name: 'v6 /128 never', p: '2001:db8::1/128', hostBits: false, masked: '2001:db8::1/128' },
      { name: 'v6 /64 host', p: '2001:db8::5/64', hostBits: true, masked: '2001:db8::/64' },
    ];
    it.each(cases)('$name', ({ p, hostBits, masked }) => {
      const x = P(p);
      expect(x.hasHostBits()).toBe(hostBits);
      expect(x.masked().toString()).toBe(masked);
      expect(x.masked().hasHostBits()).toBe(false);
      expect(x.masked().family).toBe(x.family);
    });
  });

  describe('ranges', () => {
    const cases: {
      name: string;
      p: string;
      network: string;
      broadcast: string;
      size: bigint;
      first: string;
      last: string;
      count: bigint;
    }[] = [
      {
        name: 'v4 /0',
        p: '0.0.0.0/0',
        network: '0.0.0.0',
        broadcast: '255.255.255.255',
        size: 1n << 32n,
        first: '0.0.0.1',
        last: '255.255.255.254',
        count: (1n << 32n) - 2n,
      },
      {
        name: 'v4 /30',
        p: '10.0.0.0/30',
        network: '10.0.0.0',
        broadcast: '10.0.0.3',
        size: 4n,
        first: '10.0.0.1',
        last: '10.0.0.2',
        count: 2n,
      },
      {
        name: 'v4 /31 uses both (RFC 3021)',
        p: '10.0.0.1/31',
        network: '10.0.0.0',
        broadcast: '10.0.0.1',
        size: 2n,
        first: '10.0.0.0',
        last: '10.0.0.1',
        count: 2n,
      },
      {
        name: 'v4 /32 single address',
        p: '10.0.0.5/32',
        network: '10.0.0.5',
        broadcast: '10.0.0.5',
        size: 1n,
        first: '10.0.0.5',
        last: '10.0.0.5',
        count: 1n,
      },
      {
        name: 'v4 /32 at top of range',
        p: '255.255.255.255/32',
        network: '255.255.255.255',
        broadcast: '255.255.255.255',
        size: 1n,
        first: '255.255.255.255',
        last: '255.255.255.255',
        count: 1n,
      },
      {
        name: 'v4 /24 with host bits',
        p: '10.80.0.77/24',
        network: '10.80.0.0',
        broadcast: '10.80.0.255',
        size: 256n,
        first: '10.80.0.1',
        last: '10.80.0.254',
        count: 254n,
      },
      {
        name: 'v6 /0',
        p: '::/0',
        network: '::',
        broadcast: V6_LAST,
        size: 1n << 128n,
        first: '::1',
        last: V6_LAST,
        count: (1n << 128n) - 1n,
      },
      {
        name: 'v6 /126',
        p: '2001:db8::/126',
        network: '2001:db8::',
        broadcast: '2001:db8::3',
        size: 4n,
        first: '2001:db8::1',
        last: '2001:db8::3',
        count: 3n,
      },
      {
        name: 'v6 /127 uses both (RFC 6164)',
        p: '2001:db8::1/127',
        network: '2001:db8::',
        broadcast: '2001:db8::1',
        size: 2n,
        first: '2001:db8::',
        last: '2001:db8::1',
        count: 2n,
      },
      {
        name: 'v6 /128 single address',
        p: '2001:db8::1/128',
        network: '2001:db8::1',
        broadcast: '2001:db8::1',
        size: 1n,
        first: '2001:db8::1',
        last: '2001:db8::1',
        count: 1n,
      },
      {
        name: 'v6 /64',
        p: '2001:db8:0:1::/64',
        network: '2001:db8:0:1::',
        broadcast: '2001:db8:0:1:ffff:ffff:ffff:ffff',
        size: 1n << 64n,
        first: '2001:db8:0:1::1',
        last: '2001:db8:0:1:ffff:ffff:ffff:ffff',
        count: (1n << 64n) - 1n,
      },
    ];
    it.each(cases)('$name', ({ p, network, broadcast, size, first, last, count }) => {
      const x = P(p);
      expect(x.network().toString()).toBe(network);
      expect(x.broadcast().toString()).toBe(broadcast);
      expect(x.size()).toBe(size);
      expect(x.firstHost()?.toString()).toBe(first);
      expect(x.lastHost()?.toString()).toBe(last);
      expect(x.hostCount()).toBe(count);
      expect(intervalOf(x)).toEqual([A(network).value, A(broadcast).value]);
    });
  });

  describe('nthHost', () => {
    const cases: { name: string; p: string; n: bigint; want: string | undefined }[] = [
      { name: 'v4 /0 first', p: '0.0.0.0/0', n: 0n, want: '0.0.0.1' },
      { name: 'v4 /0 last', p: '0.0.0.0/0', n: (1n << 32n) - 3n, want: '255.255.255.254' },
      { name: 'v4 /0 past last', p: '0.0.0.0/0', n: (1n << 32n) - 2n, want: undefined },
      { name: 'v4 /31 first', p: '10.0.0.0/31', n: 0n, want: '10.0.0.0' },
      { name: 'v4 /31 last', p: '10.0.0.0/31', n: 1n, want: '10.0.0.1' },
      { name: 'v4 /31 past last', p: '10.0.0.0/31', n: 2n, want: undefined },
      { name: 'v4 /32 only', p: '10.0.0.7/32', n: 0n, want: '10.0.0.7' },
      { name: 'v4 /32 past last', p: '10.0.0.7/32', n: 1n, want: undefined },
      { name: 'v4 negative', p: '10.0.0.0/24', n: -1n, want: undefined },
      { name: 'v4 /24 first', p: '10.0.0.0/24', n: 0n, want: '10.0.0.1' },
      { name: 'v4 /24 last', p: '10.0.0.0/24', n: 253n, want: '10.0.0.254' },
      { name: 'v4 /24 broadcast excluded', p: '10.0.0.0/24', n: 254n, want: undefined },
      { name: 'v4 /24 host bits ignored', p: '10.0.0.99/24', n: 0n, want: '10.0.0.1' },
      { name: 'v6 /0 last', p: '::/0', n: (1n << 128n) - 2n, want: V6_LAST },
      { name: 'v6 /0 past last', p: '::/0', n: (1n << 128n) - 1n, want: undefined },
      { name: 'v6 /127 first', p: '2001:db8::/127', n: 0n, want: '2001:db8::' },
      { name: 'v6 /127 last', p: '2001:db8::/127', n: 1n, want: '2001:db8::1' },
      { name: 'v6 /127 past last', p: '2001:db8::/127', n: 2n, want: undefined },
      { name: 'v6 /128 only', p: '2001:db8::9/128', n: 0n, want: '2001:db8::9' },
      { name: 'v6 /128 past last', p: '2001:db8::9/128', n: 1n, want: undefined },
      { name: 'v6 negative', p: '2001:db8::/64', n: -1n, want: undefined },
      { name: 'v6 /64 first', p: '2001:db8::/64', n: 0n, want: '2001:db8::1' },
      {
        name: 'v6 /64 last',
        p: '2001:db8::/64',
        n: (1n << 64n) - 2n,
        want: '2001:db8::ffff:ffff:ffff:ffff',
      },
      { name: 'v6 /64 past last', p: '2001:db8::/64', n: (1n << 64n) - 1n, want: undefined },
    ];
    it.each(cases)('$name', ({ p, n, want }) => {
      const got = P(p).nthHost(n);
      expect(got?.toString()).toBe(want);
      expect(got === undefined || P(p).isHost(got)).toBe(true);
    });
  });

  describe('isHost and contains', () => {
    const cases: { name: string; p: string; a: string; host: boolean; contains: boolean }[] = [
      { name: 'v4 /0 network', p: '0.0.0.0/0', a: '0.0.0.0', host: false, contains: true },
      {
        name: 'v4 /0 broadcast',
        p: '0.0.0.0/0',
        a: '255.255.255.255',
        host: false,
        contains: true,
      },
      { name: 'v4 /0 middle', p: '0.0.0.0/0', a: '10.0.0.0', host: true, contains: true },
      { name: 'v4 /31 low', p: '10.0.0.0/31', a: '10.0.0.0', host: true, contains: true },
      { name: 'v4 /31 high', p: '10.0.0.0/31', a: '10.0.0.1', host: true, contains: true },
      { name: 'v4 /31 outside', p: '10.0.0.0/31', a: '10.0.0.2', host: false, contains: false },
      { name: 'v4 /32 itself', p: '10.0.0.5/32', a: '10.0.0.5', host: true, contains: true },
      { name: 'v4 /32 neighbour', p: '10.0.0.5/32', a: '10.0.0.6', host: false, contains: false },
      { name: 'v4 /24 network', p: '10.0.0.0/24', a: '10.0.0.0', host: false, contains: true },
      { name: 'v4 /24 first', p: '10.0.0.0/24', a: '10.0.0.1', host: true, contains: true },
      { name: 'v4 /24 last', p: '10.0.0.0/24', a: '10.0.0.254', host: true, contains: true },
      { name: 'v4 /24 broadcast', p: '10.0.0.0/24', a: '10.0.0.255', host: false, contains: true },
      { name: 'v4 /24 below', p: '10.0.0.0/24', a: '9.255.255.255', host: false, contains: false },
      { name: 'v4 /24 above', p: '10.0.0.0/24', a: '10.0.1.0', host: false, contains: false },
      { name: 'v4 host-bit prefix', p: '10.0.0.77/24', a: '10.0.0.1', host: true, contains: true },
      { name: 'v6 /0 network', p: '::/0', a: '::', host: false, contains: true },
      { name: 'v6 /0 last', p: '::/0', a: V6_LAST, host: true, contains: true },
      { name: 'v6 /64 network', p: '2001:db8::/64', a: '2001:db8::', host: false, contains: true },
      {
        name: 'v6 /64 last',
        p: '2001:db8::/64',
        a: '2001:db8::ffff:ffff:ffff:ffff',
        host: true,
        contains: true,
      },
      {
        name: 'v6 /64 above',
        p: '2001:db8::/64',
        a: '2001:db8:0:1::',
        host: false,
        contains: false,
      },
      { name: 'v6 /127 low', p: '2001:db8::/127', a: '2001:db8::', host: true, contains: true },
      { name: 'v6 /127 high', p: '2001:db8::/127', a: '2001:db8::1', host: true, contains: true },
      { name: 'v6 /128 itself', p: '::1/128', a: '::1', host: true, contains: true },
      { name: 'v6 /128 neighbour', p: '::1/128', a: '::', host: false, contains: false },
      { name: 'cross-family v4 in ::/0', p: '::/0', a: '10.0.0.1', host: false, contains: false },
      { name: 'cross-family v6 in 0/0', p: '0.0.0.0/0', a: '::1', host: false, contains: false },
      {
        name: 'cross-family IPv4-mapped',
        p: '10.0.0.0/8',
        a: '::ffff:10.0.0.1',
        host: false,
        contains: false,
      },
    ];
    it.each(cases)('$name', ({ p, a, host, contains }) => {
      expect(P(p).isHost(A(a))).toBe(host);
      expect(P(p).contains(A(a))).toBe(contains);
    });
  });

  describe('containsPrefix and overlaps', () => {
    // aInB / bInA are checked in both directions, overlaps must be symmetric.
    const cases: { name: string; a: string; b: string; aInB: boolean; bInA: boolean }[] = [
      { name: 'v4 identical', a: '10.0.0.0/24', b: '10.0.0.0/24', aInB: true, bInA: true },
      { name: 'v4 /0 and /32', a: '0.0.0.0/0', b: '1.2.3.4/32', aInB: false, bInA: true },
      {
        name: 'v4 /0 and top /32',
        a: '0.0.0.0/0',
        b: '255.255.255.255/32',
        aInB: false,
        bInA: true,
      },
      { name: 'v4 /31 halves', a: '10.0.0.0/31', b: '10.0.0.1/32', aInB: false, bInA: true },
      { name: 'v4 /32 neighbours', a: '10.0.0.0/32', b: '10.0.0.1/32', aInB: false, bInA: false },
      {
        name: 'v4 last subnet of supernet',
        a: '10.0.0.0/24',
        b: '10.0.0.192/26',
        aInB: false,
        bInA: true,
      },
      { name: 'v4 sibling /25s', a: '10.0.0.0/25', b: '10.0.0.128/25', aInB: false, bInA: false },
      { name: 'v4 adjacent /8s', a: '10.0.0.0/8', b: '11.0.0.0/8', aInB: false, bInA: false },
      {
        name: 'v4 host bits ignored',
        a: '10.0.0.77/24',
        b: '10.0.0.0/25',
        aInB: false,
        bInA: true,
      },
      {
        name: 'v4 same network, host bits differ',
        a: '10.0.0.1/24',
        b: '10.0.0.2/24',
        aInB: true,
        bInA: true,
      },
      { name: 'v6 /0 and /128', a: '::/0', b: `${V6_LAST}/128`, aInB: false, bInA: true },
      {
        name: 'v6 /127 and /128',
        a: '2001:db8::/127',
        b: '2001:db8::1/128',
        aInB: false,
        bInA: true,
      },
      { name: 'v6 /128 neighbours', a: '::/128', b: '::1/128', aInB: false, bInA: false },
      {
        name: 'v6 /48 and /64',
        a: '2001:db8::/48',
        b: '2001:db8:0:ffff::/64',
        aInB: false,
        bInA: true,
      },
      {
        name: 'v6 sibling /48s',
        a: '2001:db8::/48',
        b: '2001:db8:1::/48',
        aInB: false,
        bInA: false,
      },
      { name: 'cross-family /0s', a: '0.0.0.0/0', b: '::/0', aInB: false, bInA: false },
      {
        name: 'cross-family IPv4-mapped',
        a: '10.0.0.0/8',
        b: '::ffff:10.0.0.0/104',
        aInB: false,
        bInA: false,
      },
    ];
    it.each(cases)('$name', ({ a, b, aInB, bInA }) => {
      const x = P(a);
      const y = P(b);
      expect(y.containsPrefix(x)).toBe(aInB);
      expect(x.containsPrefix(y)).toBe(bInA);
      const overlap = aInB || bInA;
      expect(x.overlaps(y)).toBe(overlap);
      expect(y.overlaps(x)).toBe(overlap);
    });
  });

  describe('equals and compare', () => {
    const cases: { name: string; a: string; b: string; want: number }[] = [
      { name: 'v4 identical', a: '10.0.0.0/24', b: '10.0.0.0/24', want: 0 },
      {
        name: 'v6 identical, different spelling',
        a: '2001:DB8::/32',
        b: '2001:db8:0::/32',
        want: 0,
      },
      { name: 'v4 /0 before /32 of same network', a: '0.0.0.0/0', b: '0.0.0.0/32', want: -1 },
      { name: 'v4 supernet before subnet', a: '10.0.0.0/8', b: '10.0.0.0/24', want: -1 },
      { name: 'v4 network before length', a: '10.0.0.0/24', b: '10.1.0.0/16', want: -1 },
      { name: 'v4 masked network decides', a: '10.0.0.255/24', b: '10.0.1.0/24', want: -1 },
      { name: 'v4 host bits break ties', a: '10.0.0.0/24', b: '10.0.0.1/24', want: -1 },
      { name: 'v4 /31 vs /32 of same start', a: '10.0.0.0/31', b: '10.0.0.0/32', want: -1 },
      { name: 'v4 before v6', a: '255.255.255.255/32', b: '::/0', want: -1 },
      { name: 'v4 before IPv4-mapped', a: '10.0.0.0/8', b: '::ffff:10.0.0.0/104', want: -1 },
      { name: 'v6 /127 vs /128', a: '2001:db8::/127', b: '2001:db8::/128', want: -1 },
      { name: 'v6 by network', a: '2001:db8::/64', b: '2001:db8:0:1::/64', want: -1 },
    ];
    it.each(cases)('$name', ({ a, b, want }) => {
      const x = P(a);
      const y = P(b);
      expect(x.compare(y)).toBe(want);
      expect(y.compare(x)).toBe(-want || 0);
      expect(x.equals(y)).toBe(want === 0);
      expect(y.equals(x)).toBe(want === 0);
    });

    it('sorts like a routing table', () => {
      const input = [
        '::/0',
        '10.0.1.0/24',
        '10.0.0.0/24',
        '10.0.0.0/8',
        '2001:db8::/32',
        '9.0.0.0/8',
      ];
      const sorted = input.map(P).sort((a, b) => a.compare(b));
      expect(sorted.map(String)).toEqual([
        '9.0.0.0/8',
        '10.0.0.0/8',
        '10.0.0.0/24',
        '10.0.1.0/24',
        '::/0',
        '2001:db8::/32',
      ]);
    });
  });
});

// oxlint-disable-next-line vitest/valid-title -- X.name keeps the title in step with renames
describe(intervalOf.name, () => {
  const cases: { name: string; p: string; want: [bigint, bigint] }[] = [
    { name: 'v4 /0', p: '0.0.0.0/0', want: [0n, (1n << 32n) - 1n] },
    { name: 'v4 /32', p: '0.0.0.1/32', want: [1n, 1n] },
    { name: 'v4 host bits ignored', p: '10.0.0.77/24', want: [0x0a000000n, 0x0a0000ffn] },
    { name: 'v6 /0', p: '::/0', want: [0n, (1n << 128n) - 1n] },
    { name: 'v6 /128', p: '::2/128', want: [2n, 2n] },
    { name: 'v6 /127', p: '::3/127', want: [2n, 3n] },
  ];
  it.each(cases)('$name', ({ p, want }) => {
    expect(intervalOf(P(p))).toEqual(want);
  });
});
