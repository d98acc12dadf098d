import { describe, expect, it } from 'vitest';
import { InvalidRequest, type PoolRequest } from '#app/ipam';
import { Prefix } from '#app/net';
import { checkPoolRequest } from './pool-allocator.js';

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
      name: 'V6',
      r: req({ v6: true }),
      message: 'IPv6 is not supported: this plugin allocates IPv4 pools only',
    },
    {
      name: 'IPv6 Pool',
      r: req({ pool: 'fd00::/64' }),
      message: 'Pool fd00::/64 is IPv6: IPv6 is not supported',
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
