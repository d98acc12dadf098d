import { describe, expect, it } from 'vitest';

import { parseIpv4Cidr } from './cidr.js';

describe('parseIpv4Cidr', () => {
  const cases = [
    // edge rows
    { name: 'empty string', text: '', expected: { ok: false, reason: 'syntax' } },
    {
      name: 'whole space /0',
      text: '0.0.0.0/0',
      expected: { ok: true, address: '0.0.0.0', network: '0.0.0.0', prefixLength: 0 },
    },
    {
      name: 'single host /32',
      text: '10.0.0.1/32',
      expected: { ok: true, address: '10.0.0.1', network: '10.0.0.1', prefixLength: 32 },
    },
    {
      name: 'host bits are reported through network',
      text: '10.80.1.0/12',
      expected: { ok: true, address: '10.80.1.0', network: '10.80.0.0', prefixLength: 12 },
    },
    // rules
    {
      name: 'typical network',
      text: '10.80.0.0/12',
      expected: { ok: true, address: '10.80.0.0', network: '10.80.0.0', prefixLength: 12 },
    },
    { name: 'IPv6 network', text: 'fd00::/8', expected: { ok: false, reason: 'ipv6' } },
    { name: 'IPv6 address without prefix', text: '::1', expected: { ok: false, reason: 'ipv6' } },
    { name: 'missing prefix', text: '10.80.0.0', expected: { ok: false, reason: 'syntax' } },
    { name: 'empty prefix', text: '10.80.0.0/', expected: { ok: false, reason: 'syntax' } },
    { name: 'prefix above 32', text: '10.80.0.0/33', expected: { ok: false, reason: 'syntax' } },
    {
      name: 'prefix with leading zero',
      text: '10.80.0.0/012',
      expected: { ok: false, reason: 'syntax' },
    },
    { name: 'short IPv4 form', text: '10.80/12', expected: { ok: false, reason: 'syntax' } },
    {
      name: 'octal-looking octet',
      text: '010.80.0.0/12',
      expected: { ok: false, reason: 'syntax' },
    },
    { name: 'hex octet', text: '0xa.80.0.0/12', expected: { ok: false, reason: 'syntax' } },
    { name: 'octet above 255', text: '10.256.0.0/16', expected: { ok: false, reason: 'syntax' } },
    {
      name: 'surrounding blanks',
      text: ' 10.80.0.0/12',
      expected: { ok: false, reason: 'syntax' },
    },
  ];

  it.each(cases)('$name', ({ text, expected }) => {
    expect(parseIpv4Cidr(text)).toEqual(expected);
  });
});
