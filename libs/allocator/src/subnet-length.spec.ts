import { describe, expect, it } from 'vitest';
import { InvalidRequest, PoolMismatch, type PoolRequest } from '#app/ipam';
import { Prefix } from '#app/net';
import type { StoredPool } from '#app/store';
import { checkSubnetLength, dynamicLength, verifySameLength } from './subnet-length.js';

const SUPERNET = Prefix.parse('10.80.0.0/12');
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
  ])('should accept $name', ({ r }) => {
    expect(() => checkSubnetLength(r, SUPERNET)).not.toThrow();
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
    { r: req({ subnetLength: 26, v6: true }), length: 24 },
  ])('$r.subnetLength -> $length', ({ r, length }) => {
    expect(dynamicLength(r, 24)).toBe(length);
  });
});

const refuseLength = (): void => verifySameLength(pool('10.80.0.0/26'), req({ subnetLength: 25 }));

describe('verifySameLength', () => {
  it.each([
    { name: 'no length asked for', r: req({}) },
    { name: 'the same length', r: req({ subnetLength: 26 }) },
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
