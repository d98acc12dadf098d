import { describe, expect, it } from 'vitest';
import { InvalidRequest, type PoolRequest } from '#app/ipam';
import { Prefix, sortedIntervals } from '#app/net';
import { checkPoolRequest, firstFreeInList } from './pool-allocator.js';

/** A request as the wire layer parses it: `pool` and `subPool` in Docker's text. */
const req = (r: {
  pool?: string;
  subPool?: string;
  network?: string;
  v6?: boolean;
}): PoolRequest => ({
  ...(r.pool ? { subnet: Prefix.parse(r.pool) } : {}),
  ...(r.subPool ? { range: Prefix.parse(r.subPool) } : {}),
  ...(r.network ? { network: r.network } : {}),
  v6: r.v6 ?? false,
});

describe('checkPoolRequest', () => {
  it.each([
    { name: 'dynamic, private', r: req({}), out: {} },
    {
      name: 'dynamic, shared',
      r: req({ network: 'kontena' }),
      out: { network: 'kontena' },
    },
    {
      name: 'a network name that only resembles the prefix',
      r: req({ network: 'local' }),
      out: { network: 'local' },
    },
    {
      name: 'a network name with the prefix inside',
      r: req({ network: 'my-local-net' }),
      out: { network: 'my-local-net' },
    },
    {
      name: 'static just below loopback',
      r: req({ pool: '126.0.0.0/8' }),
      out: { subnet: '126.0.0.0/8' },
    },
    {
      name: 'static just above loopback',
      r: req({ pool: '128.0.0.0/8' }),
      out: { subnet: '128.0.0.0/8' },
    },
    {
      name: 'static beside link-local',
      r: req({ pool: '169.253.0.0/16' }),
      out: { subnet: '169.253.0.0/16' },
    },
    {
      name: 'static just below multicast',
      r: req({ pool: '223.255.255.0/24' }),
      out: { subnet: '223.255.255.0/24' },
    },
    { name: 'static in 1.0.0.0/8', r: req({ pool: '1.0.0.0/8' }), out: { subnet: '1.0.0.0/8' } },
    { name: 'static /8', r: req({ pool: '10.0.0.0/8' }), out: { subnet: '10.0.0.0/8' } },
    { name: 'static /30', r: req({ pool: '10.0.0.0/30' }), out: { subnet: '10.0.0.0/30' } },
    {
      name: 'static with range equal to the subnet',
      r: req({ pool: '10.1.0.0/24', subPool: '10.1.0.0/24' }),
      out: { subnet: '10.1.0.0/24', iprange: '10.1.0.0/24' },
    },
    {
      name: 'dynamic IPv6',
      r: req({ network: 'blue', v6: true }),
      out: { network: 'blue' },
    },
    {
      name: 'static IPv6 /64 with a range',
      r: req({ pool: 'fd00:1::/64', subPool: 'fd00:1::8000:0/112', v6: true }),
      out: { subnet: 'fd00:1::/64', iprange: 'fd00:1::8000:0/112' },
    },
    {
      name: 'static IPv6 /48 and /120',
      r: req({ pool: '2001:db8::/48', v6: true }),
      out: { subnet: '2001:db8::/48' },
    },
    {
      name: 'static with range in the last quarter',
      r: req({ pool: '10.1.0.0/24', subPool: '10.1.0.192/26' }),
      out: { subnet: '10.1.0.0/24', iprange: '10.1.0.192/26' },
    },
  ])('should accept $name', ({ r, out }) => {
    expect(() => checkPoolRequest(r)).not.toThrow();
    expect({
      ...(r.network ? { network: r.network } : {}),
      ...(r.subnet ? { subnet: r.subnet.toString() } : {}),
      ...(r.range ? { iprange: r.range.toString() } : {}),
    }).toEqual(out);
  });

  it.each([
    {
      name: 'IPv6 Pool with V6 false',
      r: req({ pool: 'fd00::/64' }),
      message:
        'Pool fd00::/64 is IPv6, but V6 is false: give an IPv6 --subnet to a network created with --ipv6',
    },
    {
      name: 'IPv4 Pool with V6 true',
      r: req({ pool: '10.0.0.0/24', v6: true }),
      message:
        'Pool 10.0.0.0/24 is IPv4, but V6 is true: an IPv6 network (--ipv6) takes an IPv6 --subnet',
    },
    {
      name: 'IPv4 SubPool in an IPv6 Pool',
      r: req({ pool: 'fd00::/64', subPool: '10.0.0.0/24', v6: true }),
      message:
        'SubPool 10.0.0.0/24 is IPv4, but V6 is true: an IPv6 network (--ipv6) takes an IPv6 --subnet',
    },
    {
      name: 'IPv6 /47',
      r: req({ pool: 'fd00::/47', v6: true }),
      message: 'Pool fd00::/47 has prefix length /47: IPv6 pools must be /48 to /120',
    },
    {
      name: 'IPv6 /121',
      r: req({ pool: 'fd00::/121', v6: true }),
      message: 'Pool fd00::/121 has prefix length /121: IPv6 pools must be /48 to /120',
    },
    {
      name: 'IPv6 host bits',
      r: req({ pool: 'fd00::1/64', v6: true }),
      message: 'Pool fd00::1/64 has host bits set: did you mean fd00::/64?',
    },
    {
      name: 'IPv6 SubPool outside',
      r: req({ pool: 'fd00::/64', subPool: 'fd00:0:0:1::/80', v6: true }),
      message: 'SubPool fd00:0:0:1::/80 is not inside Pool fd00::/64',
    },
    {
      name: 'IPv4-mapped',
      r: req({ pool: '::ffff:0:0/96', v6: true }),
      message:
        'Pool ::ffff:0.0.0.0/96 overlaps ::ffff:0.0.0.0/96, IPv4-mapped (RFC 4291), where no address can serve a container',
    },
    {
      name: 'in ::/8',
      r: req({ pool: '::/64', v6: true }),
      message:
        'Pool ::/64 overlaps ::/8, unspecified, loopback and IPv4-compatible (RFC 4291), where no address can serve a container',
    },
    {
      name: 'IPv6 link-local',
      r: req({ pool: 'fe80::/64', v6: true }),
      message:
        'Pool fe80::/64 overlaps fe80::/10, link-local (RFC 4291), where no address can serve a container',
    },
    {
      name: 'IPv6 multicast',
      r: req({ pool: 'ff02::/64', v6: true }),
      message:
        'Pool ff02::/64 overlaps ff00::/8, multicast (RFC 4291), where no address can serve a container',
    },
    {
      name: '/31',
      r: req({ pool: '10.0.0.0/31' }),
      message: 'Pool 10.0.0.0/31 has prefix length /31: IPv4 pools must be /8 to /30',
    },
    {
      name: '/32',
      r: req({ pool: '10.0.0.1/32' }),
      message: 'Pool 10.0.0.1/32 has prefix length /32: IPv4 pools must be /8 to /30',
    },
    {
      name: '/0',
      r: req({ pool: '0.0.0.0/0' }),
      message: 'Pool 0.0.0.0/0 has prefix length /0: IPv4 pools must be /8 to /30',
    },
    {
      name: 'host bits',
      r: req({ pool: '10.0.0.5/24' }),
      message: 'Pool 10.0.0.5/24 has host bits set: did you mean 10.0.0.0/24?',
    },
    {
      name: 'SubPool alone',
      r: req({ subPool: '10.0.0.0/25' }),
      message: 'SubPool 10.0.0.0/25 requires Pool: give --subnet together with --ip-range',
    },
    {
      name: 'SubPool larger than Pool',
      r: req({ pool: '10.0.0.0/24', subPool: '10.0.0.0/23' }),
      message: 'SubPool 10.0.0.0/23 is not inside Pool 10.0.0.0/24',
    },
    {
      name: 'SubPool beside Pool',
      r: req({ pool: '10.0.0.0/24', subPool: '10.0.1.0/25' }),
      message: 'SubPool 10.0.1.0/25 is not inside Pool 10.0.0.0/24',
    },
    {
      name: 'a network name with the prefix of private pools',
      r: req({ network: 'local-3f2a' }),
      message:
        'Options.network "local-3f2a" starts with "local-", which is reserved for the pools of networks created without a network name',
    },
    {
      name: 'a network name that is the prefix alone',
      r: req({ network: 'local-' }),
      message:
        'Options.network "local-" starts with "local-", which is reserved for the pools of networks created without a network name',
    },
    {
      name: 'a pool in "this network"',
      r: req({ pool: '0.0.0.0/8' }),
      message:
        'Pool 0.0.0.0/8 overlaps 0.0.0.0/8, "this network" (RFC 1122), where no address can serve a container',
    },
    {
      name: 'a pool in a subnet of "this network"',
      r: req({ pool: '0.0.10.0/24' }),
      message:
        'Pool 0.0.10.0/24 overlaps 0.0.0.0/8, "this network" (RFC 1122), where no address can serve a container',
    },
    {
      name: 'a pool in loopback',
      r: req({ pool: '127.0.0.0/8' }),
      message:
        'Pool 127.0.0.0/8 overlaps 127.0.0.0/8, loopback (RFC 1122), where no address can serve a container',
    },
    {
      name: 'a pool in a subnet of loopback',
      r: req({ pool: '127.5.0.0/16' }),
      message:
        'Pool 127.5.0.0/16 overlaps 127.0.0.0/8, loopback (RFC 1122), where no address can serve a container',
    },
    {
      name: 'a pool in link-local',
      r: req({ pool: '169.254.0.0/16' }),
      message:
        'Pool 169.254.0.0/16 overlaps 169.254.0.0/16, link-local (RFC 3927), where no address can serve a container',
    },
    {
      name: 'a pool in a /8 around link-local',
      r: req({ pool: '169.0.0.0/8' }),
      message:
        'Pool 169.0.0.0/8 overlaps 169.254.0.0/16, link-local (RFC 3927), where no address can serve a container',
    },
    {
      name: 'a pool in the first multicast subnet',
      r: req({ pool: '224.0.0.0/24' }),
      message:
        'Pool 224.0.0.0/24 overlaps 224.0.0.0/3, multicast and reserved (RFC 5771, RFC 1112), where no address can serve a container',
    },
    {
      name: 'a pool in the last reserved subnet',
      r: req({ pool: '255.255.255.0/24' }),
      message:
        'Pool 255.255.255.0/24 overlaps 224.0.0.0/3, multicast and reserved (RFC 5771, RFC 1112), where no address can serve a container',
    },
  ])('should reject $name', ({ r, message }) => {
    expect(() => checkPoolRequest(r)).toThrow(InvalidRequest);
    expect(() => checkPoolRequest(r)).toThrow(message);
  });
});

const reserved = (...texts: string[]) => [
  sortedIntervals(
    texts.map((t) => Prefix.parse(t)),
    4,
  ),
];

describe('firstFreeInList', () => {
  const supernets = [
    { prefix: Prefix.parse('10.200.0.0/23'), length: 24 },
    { prefix: Prefix.parse('172.30.0.0/24'), length: 26 },
  ];

  it.each([
    // edge rows first: nothing reserved, each supernet just full
    { name: 'nothing reserved', taken: [], requested: undefined, want: '10.200.0.0/24' },
    {
      name: 'the first full: the next, at its own length',
      taken: ['10.200.0.0/23'],
      requested: undefined,
      want: '172.30.0.0/26',
    },
    {
      name: 'both full',
      taken: ['10.200.0.0/23', '172.30.0.0/24'],
      requested: undefined,
      want: undefined,
    },
    {
      name: 'a hole in the first, after the second filled up',
      taken: ['10.200.1.0/24', '172.30.0.0/26'],
      requested: undefined,
      want: '10.200.0.0/24',
    },
    { name: 'a length only the first holds', taken: [], requested: 23, want: '10.200.0.0/23' },
    {
      name: 'a length only the first holds, the first taken',
      taken: ['10.200.0.0/28'],
      requested: 23,
      want: undefined,
    },
    {
      name: 'a requested length in place of the own',
      taken: ['10.200.0.0/23'],
      requested: 28,
      want: '172.30.0.0/28',
    },
    {
      name: 'a reservation outside every supernet',
      taken: ['192.168.0.0/16'],
      requested: undefined,
      want: '10.200.0.0/24',
    },
  ])('$name -> $want', ({ taken, requested, want }) => {
    expect(firstFreeInList(supernets, requested, reserved(...taken))?.toString()).toBe(want);
  });
});
