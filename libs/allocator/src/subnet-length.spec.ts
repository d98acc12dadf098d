import { describe, expect, it } from 'vitest';
import { InvalidRequest, PoolMismatch, type PoolRequest } from '#app/ipam';
import { Prefix } from '#app/net';
import type { StoredPool } from '#app/store';
import { checkSubnetLength, dynamicLength, verifySameLength } from './subnet-length.js';

const SUPERNET = Prefix.parse('10.80.0.0/12');
const SUPERNET6 = Prefix.parse('fd00:77::/56');
const req = (r: Partial<PoolRequest>): PoolRequest => ({ v6: false, ...r });
const pool = (subnet: string): StoredPool => ({
  id: 'blue',
  record: { subnet, gateway: '' },
  createRevision: '1',
});

describe('checkSubnetLength', () => {
  it.each([
    // edge rows first: the supernet's own length and /30
    { name: 'none given', r: req({}) },
    { name: 'the supernet length', r: req({ subnetLength: 12 }) },
    { name: '/30', r: req({ subnetLength: 30 }) },
    {
      name: 'the length of the --subnet given',
      r: req({ subnetLength: 24, subnet: Prefix.parse('10.1.0.0/24') }),
    },
    {
      name: 'any, on the IPv6 request of a dual-stack network',
      r: req({ subnetLength: 31, v6: true }),
    },
    {
      name: 'any subnet6-length, on the IPv4 request of a dual-stack network',
      r: req({ subnet6Length: 200 }),
    },
  ])('should accept $name', ({ r }) => {
    expect(() => checkSubnetLength(r, SUPERNET)).not.toThrow();
  });

  it.each([
    // edge rows first: the supernet's own length and /120
    { name: 'the supernet length', r: req({ subnet6Length: 56, v6: true }) },
    { name: '/120', r: req({ subnet6Length: 120, v6: true }) },
    {
      name: 'the length of the IPv6 --subnet given',
      r: req({ subnet6Length: 64, v6: true, subnet: Prefix.parse('fd00:1::/64') }),
    },
  ])('should accept the subnet6-length of $name', ({ r }) => {
    expect(() => checkSubnetLength(r, SUPERNET6)).not.toThrow();
  });

  it.each([
    {
      name: 'shorter than the supernet',
      length: 55,
      error:
        /^Options.subnet6-length 55 is not a prefix length of a pool in the supernet fd00:77::\/56: expected 56 to 120$/,
    },
    { name: '/121', length: 121, error: /expected 56 to 120/ },
  ])('should refuse a subnet6-length $name', ({ length, error }) => {
    const r = req({ subnet6Length: length, v6: true });
    expect(() => checkSubnetLength(r, SUPERNET6)).toThrow(InvalidRequest);
    expect(() => checkSubnetLength(r, SUPERNET6)).toThrow(error);
  });

  it.each([48, 120])('should accept subnet6-length %i before the supernet is known', (length) => {
    expect(() =>
      checkSubnetLength(req({ subnet6Length: length, v6: true }), undefined),
    ).not.toThrow();
  });

  it.each([47, 121])('should refuse subnet6-length %i before the supernet is known', (length) => {
    expect(() => checkSubnetLength(req({ subnet6Length: length, v6: true }), undefined)).toThrow(
      `Options.subnet6-length ${length} is not a prefix length of a pool: expected 48 to 120`,
    );
  });

  it('should refuse a subnet6-length that contradicts the IPv6 --subnet', () => {
    const r = req({ subnet6Length: 80, v6: true, subnet: Prefix.parse('fd00:1::/64') });
    expect(() => checkSubnetLength(r, SUPERNET6)).toThrow(
      'Options.subnet6-length 80 contradicts Pool fd00:1::/64: give one or the other, or the same length',
    );
  });

  it.each([
    // edge rows first: one past either end
    { name: 'shorter than the supernet', r: req({ subnetLength: 11 }), error: /expected 12 to 30/ },
    { name: '/31', r: req({ subnetLength: 31 }), error: /expected 12 to 30/ },
    { name: '0', r: req({ subnetLength: 0 }), error: /expected 12 to 30/ },
    {
      name: 'another length than the --subnet given',
      r: req({ subnetLength: 26, subnet: Prefix.parse('10.1.0.0/24') }),
      error: /^Options.subnet-length 26 contradicts Pool 10.1.0.0\/24/,
    },
  ])('should refuse $name', ({ r, error }) => {
    expect(() => checkSubnetLength(r, SUPERNET)).toThrow(InvalidRequest);
    expect(() => checkSubnetLength(r, SUPERNET)).toThrow(error);
  });

  it('should allow /8 in a supernet of /8 and no shorter', () => {
    expect(() =>
      checkSubnetLength(req({ subnetLength: 8 }), Prefix.parse('10.0.0.0/8')),
    ).not.toThrow();
    expect(() => checkSubnetLength(req({ subnetLength: 7 }), Prefix.parse('0.0.0.0/0'))).toThrow(
      /expected 8 to 30/,
    );
  });
});

describe('dynamicLength', () => {
  it.each([
    { r: req({}), length: 24 },
    { r: req({ subnetLength: 26 }), length: 26 },
    { r: req({ subnetLength: 26, v6: true }), length: 64 },
    { r: req({ v6: true }), length: 64 },
    { r: req({ subnet6Length: 80, v6: true }), length: 80 },
    { r: req({ subnetLength: 26, subnet6Length: 80 }), length: 26 },
    { r: req({ subnet6Length: 80 }), length: 24 },
  ])('$r -> $length', ({ r, length }) => {
    expect(dynamicLength(r, { subnetLength: 24, subnet6Length: 64 })).toBe(length);
  });
});

const refuseLength = (): void => verifySameLength(pool('10.80.0.0/26'), req({ subnetLength: 25 }));

describe('verifySameLength', () => {
  it.each([
    { name: 'no length asked for', r: req({}) },
    { name: 'the same length', r: req({ subnetLength: 26 }) },
    { name: 'only a subnet6-length (the IPv4 request)', r: req({ subnet6Length: 64 }) },
  ])('should join with $name', ({ r }) => {
    expect(() => verifySameLength(pool('10.80.0.0/26'), r)).not.toThrow();
  });

  it('should refuse another length, naming both', () => {
    expect(refuseLength).toThrow(PoolMismatch);
    expect(refuseLength).toThrow(
      'pool blue exists with subnet 10.80.0.0/26 (length 26), requested subnet-length 25',
    );
  });
});

const pool6 = (): StoredPool => ({ ...pool('fd00:77::/64'), id: 'blue:v6' });
const refuseLength6 = (): void => verifySameLength(pool6(), req({ subnet6Length: 80, v6: true }));

describe('verifySameLength of an IPv6 pool', () => {
  it.each([
    { name: 'no length asked for', r: req({ v6: true }) },
    { name: 'the same length', r: req({ subnet6Length: 64, v6: true }) },
    { name: 'only an IPv4 subnet-length', r: req({ subnetLength: 26, v6: true }) },
  ])('should join with $name', ({ r }) => {
    expect(() => verifySameLength(pool6(), r)).not.toThrow();
  });

  it('should refuse another subnet6-length, naming both', () => {
    expect(refuseLength6).toThrow(PoolMismatch);
    expect(refuseLength6).toThrow(
      'pool blue:v6 exists with subnet fd00:77::/64 (length 64), requested subnet6-length 80',
    );
  });
});
