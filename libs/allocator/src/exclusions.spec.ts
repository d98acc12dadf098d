import { describe, expect, it } from 'vitest';
import type { PoolRequest } from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import type { StoredPool } from '#app/store';
import {
  checkExclusions,
  checkNewPoolExclusions,
  Exclusions,
  storedExclusions,
  verifySameExclusions,
} from './exclusions.js';

const p = (text: string): Prefix => Prefix.parse(text);
const req = (r: Partial<PoolRequest>): PoolRequest => ({ v6: false, ...r });
const pool = (exclude?: string[]): StoredPool => ({
  id: 'ex',
  record: { subnet: '10.72.0.0/24', gateway: '10.72.0.1/24', ...(exclude ? { exclude } : {}) },
  createRevision: '1',
});

/** The message of what `fn` throws, or undefined. */
function failure(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
}

describe('checkExclusions', () => {
  it.each([
    { name: 'none', r: req({}), error: undefined },
    {
      name: 'IPv4 prefixes on the IPv6 request of a dual-stack network',
      r: req({ v6: true, subnet: p('fd00::/64'), exclude: [p('10.72.0.0/30')] }),
      error: undefined,
    },
    {
      name: 'a /32 inside',
      r: req({ subnet: p('10.72.0.0/24'), exclude: [p('10.72.0.9/32')] }),
      error: undefined,
    },
    {
      name: 'the whole subnet',
      r: req({ subnet: p('10.72.0.0/24'), exclude: [p('10.72.0.0/24')] }),
      error: undefined,
    },
    {
      name: 'around the subnet',
      r: req({ subnet: p('10.72.0.0/24'), exclude: [p('10.72.0.0/23')] }),
      error: 'InvalidRequest: Options.exclude 10.72.0.0/23 is not inside Pool 10.72.0.0/24',
    },
    {
      name: 'exactly a /16',
      r: req({ subnet: p('10.0.0.0/8'), exclude: [p('10.1.0.0/17'), p('10.2.0.0/17')] }),
      error: undefined,
    },
    {
      name: 'one past a /16',
      r: req({ subnet: p('10.0.0.0/8'), exclude: [p('10.1.0.0/16'), p('10.2.0.0/32')] }),
      error:
        'InvalidRequest: Options.exclude excludes 65537 addresses: at most 65536 (a /16) per pool',
    },
    {
      name: 'a private pool without --subnet',
      r: req({ exclude: [p('10.72.0.0/30')] }),
      error:
        'InvalidRequest: Options.exclude needs --subnet: the addresses to exclude must be known before the pool is',
    },
    {
      name: 'a shared pool without --subnet (it may exist)',
      r: req({ network: 'ex', exclude: [p('10.72.0.0/30')] }),
      error: undefined,
    },
  ])('$name', ({ r, error }) => {
    expect(failure(() => checkExclusions(r))).toBe(error);
  });

  it('should refuse to create a pool with exclusions and no subnet', () => {
    expect(
      failure(() => checkNewPoolExclusions(req({ network: 'ex', exclude: [p('10.72.0.0/30')] }))),
    ).toMatch(/needs --subnet/);
    expect(failure(() => checkNewPoolExclusions(req({ network: 'ex' })))).toBeUndefined();
  });
});

describe('storedExclusions and verifySameExclusions', () => {
  it('should store a list sorted, each prefix once', () => {
    expect(storedExclusions([p('10.72.0.8/31'), p('10.72.0.0/30'), p('10.72.0.8/31')])).toEqual([
      '10.72.0.0/30',
      '10.72.0.8/31',
    ]);
  });

  it.each([
    { name: 'none asked for', stored: ['10.72.0.0/30'], wanted: undefined, error: undefined },
    {
      name: 'the same in another order',
      stored: ['10.72.0.0/30', '10.72.0.8/31'],
      wanted: [p('10.72.0.8/31'), p('10.72.0.0/30')],
      error: undefined,
    },
    {
      name: 'another list',
      stored: ['10.72.0.0/30'],
      wanted: [p('10.72.0.8/31')],
      error: 'PoolMismatch: pool ex exists with exclude 10.72.0.0/30, requested 10.72.0.8/31',
    },
    {
      name: 'a list where none is stored',
      stored: undefined,
      wanted: [p('10.72.0.8/31')],
      error: 'PoolMismatch: pool ex exists with exclude (none), requested 10.72.0.8/31',
    },
  ])('$name', ({ stored, wanted, error }) => {
    expect(
      failure(() => verifySameExclusions(pool(stored), req(wanted ? { exclude: wanted } : {}))),
    ).toBe(error);
  });
});

describe('Exclusions', () => {
  it.each([
    { ip: '10.72.0.0', has: true },
    { ip: '10.72.0.3', has: true },
    { ip: '10.72.0.4', has: false },
    { ip: '10.72.0.9', has: true },
    { ip: '10.72.0.10', has: false },
  ])('$ip -> $has', ({ ip, has }) => {
    expect(new Exclusions(['10.72.0.0/30', '10.72.0.8/31']).has(Addr.parse(ip))).toBe(has);
  });

  it('should be empty without a stored list', () => {
    expect(new Exclusions(undefined).empty).toBe(true);
  });
});
