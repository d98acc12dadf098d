import { describe, expect, it } from 'vitest';
import { InvalidRequest, PoolMismatch, type PoolRequest } from '#app/ipam';
import { Prefix } from '#app/net';
import type { StoredPool } from '#app/store';
import { checkSubnetLength, verifySameLength } from './subnet-length.js';
import type { Supernet } from './supernet6.js';

const list = (...texts: string[]): Supernet[] =>
  texts.map((text) => ({ prefix: Prefix.parse(text), length: 24 }));
const SUPERNET = list('10.80.0.0/12');
const SUPERNET6 = list('fd00:77::/56');
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
    expect(() => checkSubnetLength(req({ subnetLength: 8 }), list('10.0.0.0/8'))).not.toThrow();
    expect(() => checkSubnetLength(req({ subnetLength: 7 }), list('0.0.0.0/0'))).toThrow(
      /expected 8 to 30/,
    );
  });
});

describe('checkSubnetLength with several supernets', () => {
  const supernets = list('10.80.0.0/12', '172.30.0.0/16');

  it.each([12, 15, 16, 30])(
    'should accept %i, which fits at least one of them (the others are passed over)',
    (length) => {
      expect(() => checkSubnetLength(req({ subnetLength: length }), supernets)).not.toThrow();
    },
  );

  it('should refuse a length shorter than every one of them, naming them all', () => {
    expect(() => checkSubnetLength(req({ subnetLength: 11 }), supernets)).toThrow(
      'Options.subnet-length 11 is not a prefix length of a pool in any of the supernets 10.80.0.0/12, 172.30.0.0/16: expected 12 to 30',
    );
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
