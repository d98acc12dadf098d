import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '#app/store';
import { parsePoolRequest } from './pool-allocator.js';
import type { PoolRequest } from './types.js';

const req = (r: Partial<PoolRequest>): PoolRequest => ({ options: {}, v6: false, ...r });

describe('parsePoolRequest', () => {
  it.each([
    { name: 'dynamic, private', r: req({}), out: {} },
    {
      name: 'dynamic, shared',
      r: req({ options: { network: 'kontena' } }),
      out: { network: 'kontena' },
    },
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
    const parsed = parsePoolRequest(r);
    expect({
      ...(parsed.network ? { network: parsed.network } : {}),
      ...(parsed.subnet ? { subnet: parsed.subnet.toString() } : {}),
      ...(parsed.iprange ? { iprange: parsed.iprange.toString() } : {}),
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
      name: 'not a CIDR',
      r: req({ pool: '10.0.0.0' }),
      message: 'Pool "10.0.0.0" is not a valid CIDR subnet',
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
      name: 'network name with a slash',
      r: req({ options: { network: 'a/b' } }),
      message:
        "network option \"a/b\" is invalid: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit",
    },
    {
      name: 'empty network name',
      r: req({ options: { network: '' } }),
      message: 'network option "" is invalid',
    },
    {
      name: 'network name of 129 characters',
      r: req({ options: { network: 'a'.repeat(129) } }),
      message: 'is invalid',
    },
  ])('should reject $name', ({ r, message }) => {
    expect(() => parsePoolRequest(r)).toThrow(InvalidRequest);
    expect(() => parsePoolRequest(r)).toThrow(message);
  });
});
