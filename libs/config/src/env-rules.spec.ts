import { describe, expect, it } from 'vitest';

import {
  driverNameOfSocket,
  isDockerHost,
  parseBoolean,
  parseEtcdEndpoint,
  parseHostPort,
  parseLogLevel,
  parseSupernet,
  redactUserinfo,
  splitList,
  toStrictInt,
} from './env-rules.js';

describe('splitList', () => {
  const cases = [
    { name: 'empty string', text: '', expected: [] },
    { name: 'only separators and blanks', text: ' , ,', expected: [] },
    { name: 'trims items and keeps order', text: ' b , a ,c', expected: ['b', 'a', 'c'] },
    { name: 'keeps duplicates', text: 'a,a', expected: ['a', 'a'] },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(splitList(text)).toEqual(expected);
  });
});

describe('toStrictInt', () => {
  const cases = [
    { name: 'empty string', text: '', expected: Number.NaN },
    { name: 'zero', text: '0', expected: 0 },
    { name: 'plain integer', text: '3600', expected: 3600 },
    { name: 'sign', text: '-1', expected: Number.NaN },
    { name: 'fraction', text: '1.5', expected: Number.NaN },
    { name: 'exponent', text: '1e3', expected: Number.NaN },
    { name: 'hex', text: '0x10', expected: Number.NaN },
    { name: 'blanks', text: ' 60', expected: Number.NaN },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(toStrictInt(text)).toBe(expected);
  });
});

describe('parseBoolean', () => {
  const cases = [
    { name: 'empty string', text: '', expected: undefined },
    { name: 'true', text: 'true', expected: true },
    { name: 'TRUE', text: 'TRUE', expected: true },
    { name: '1', text: '1', expected: true },
    { name: 'Yes', text: 'Yes', expected: true },
    { name: 'on', text: 'on', expected: true },
    { name: 'false', text: 'false', expected: false },
    { name: '0', text: '0', expected: false },
    { name: 'NO', text: 'NO', expected: false },
    { name: 'off', text: 'off', expected: false },
    { name: 'y is not accepted', text: 'y', expected: undefined },
    { name: '2 is not accepted', text: '2', expected: undefined },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(parseBoolean(text)).toBe(expected);
  });
});

describe('parseLogLevel', () => {
  const cases = [
    { name: 'empty string', text: '', expected: undefined },
    { name: '0 is debug', text: '0', expected: 'debug' },
    { name: '1 is info', text: '1', expected: 'info' },
    { name: '2 is warn', text: '2', expected: 'warn' },
    { name: '3 is error', text: '3', expected: 'error' },
    { name: 'name in upper case', text: 'DEBUG', expected: 'debug' },
    { name: 'warning means warn', text: 'Warning', expected: 'warn' },
    { name: '4 is out of range', text: '4', expected: undefined },
    { name: 'unknown name', text: 'verbose', expected: undefined },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(parseLogLevel(text)).toBe(expected);
  });
});

describe('parseHostPort', () => {
  const cases = [
    { name: 'empty string', text: '', expected: undefined },
    { name: 'port only', text: ':80', expected: undefined },
    { name: 'empty port', text: 'host:', expected: undefined },
    { name: 'host without port', text: 'etcd', expected: { host: 'etcd', port: undefined } },
    { name: 'lowest port', text: 'etcd:1', expected: { host: 'etcd', port: 1 } },
    { name: 'highest port', text: 'etcd:65535', expected: { host: 'etcd', port: 65_535 } },
    { name: 'port 0', text: 'etcd:0', expected: undefined },
    { name: 'port above 65535', text: 'etcd:65536', expected: undefined },
    { name: 'IPv4 host', text: '127.0.0.1:2275', expected: { host: '127.0.0.1', port: 2275 } },
    { name: 'bad dotted number', text: '127.0.0.256:2275', expected: undefined },
    { name: 'bracketed IPv6', text: '[::1]:2275', expected: { host: '::1', port: 2275 } },
    {
      name: 'bracketed IPv6 with a zone',
      text: '[fe80::1%eth0]:2275',
      expected: { host: 'fe80::1%eth0', port: 2275 },
    },
    { name: 'bracketed IPv6 with an empty zone', text: '[fe80::1%]:2275', expected: undefined },
    { name: 'bracketed bad IPv6', text: '[1::2::3]:2275', expected: undefined },
    { name: 'unbracketed IPv6', text: '::1:2275', expected: undefined },
    { name: 'brackets around a name', text: '[etcd]:2379', expected: undefined },
    {
      name: 'underscore in a Docker name',
      text: 'etcd_1:2379',
      expected: { host: 'etcd_1', port: 2379 },
    },
    { name: 'blank in host', text: 'et cd:2379', expected: undefined },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(parseHostPort(text)).toEqual(expected);
  });
});

describe('parseSupernet', () => {
  const cases = [
    { name: 'empty string', text: '', expected: { ok: false, reason: 'syntax' } },
    { name: 'whole space /0', text: '0.0.0.0/0', expected: { ok: true, prefix: '0.0.0.0/0' } },
    {
      name: 'typical network',
      text: '10.80.0.0/12',
      expected: { ok: true, prefix: '10.80.0.0/12' },
    },
    {
      name: 'host bits are kept for the caller to report',
      text: '10.80.1.0/12',
      expected: { ok: true, prefix: '10.80.1.0/12' },
    },
    { name: 'IPv6 network', text: 'fd00::/8', expected: { ok: false, reason: 'ipv6' } },
    { name: 'IPv6 address without prefix', text: '::1', expected: { ok: false, reason: 'ipv6' } },
    { name: 'IPv6 with a bad length', text: 'fd00::/129', expected: { ok: false, reason: 'ipv6' } },
    { name: 'missing prefix length', text: '10.80.0.0', expected: { ok: false, reason: 'syntax' } },
    {
      name: 'octal-looking octet',
      text: '010.80.0.0/12',
      expected: { ok: false, reason: 'syntax' },
    },
    { name: 'bad IPv6 text', text: '1::2::3/8', expected: { ok: false, reason: 'syntax' } },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    const parsed = parseSupernet(text);
    expect(parsed.ok ? { ok: true, prefix: parsed.prefix.toString() } : parsed).toEqual(expected);
  });
});

describe('parseEtcdEndpoint', () => {
  const cases = [
    { name: 'empty string', text: '', expected: undefined },
    { name: 'scheme only', text: 'http://', expected: undefined },
    { name: 'trailing slash is dropped', text: 'http://etcd:2379/', expected: 'http://etcd:2379' },
    { name: 'http with port', text: 'http://etcd:2379', expected: 'http://etcd:2379' },
    { name: 'https without port', text: 'https://etcd', expected: 'https://etcd' },
    { name: 'IPv6 host', text: 'https://[fd00::1]:2379', expected: 'https://[fd00::1]:2379' },
    { name: 'other scheme', text: 'grpc://etcd:2379', expected: undefined },
    { name: 'no scheme', text: 'etcd:2379', expected: undefined },
    { name: 'path', text: 'http://etcd:2379/v3', expected: undefined },
    { name: 'query', text: 'http://etcd:2379?x=1', expected: undefined },
    { name: 'fragment', text: 'http://etcd:2379#x', expected: undefined },
    { name: 'credentials', text: 'http://user:pw@etcd:2379', expected: undefined },
    { name: 'bad port', text: 'http://etcd:99999', expected: undefined },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(parseEtcdEndpoint(text)).toBe(expected);
  });
});

describe('isDockerHost', () => {
  const cases = [
    { name: 'empty string', text: '', expected: false },
    { name: 'unix root only', text: 'unix:///', expected: false },
    { name: 'unix absolute path', text: 'unix:///var/run/docker.sock', expected: true },
    { name: 'unix relative path', text: 'unix://var/run/docker.sock', expected: false },
    { name: 'tcp host:port', text: 'tcp://10.0.0.1:2375', expected: true },
    { name: 'http host:port', text: 'http://docker:2375', expected: true },
    { name: 'https host:port', text: 'https://docker:2376', expected: true },
    { name: 'tcp without port', text: 'tcp://docker', expected: false },
    { name: 'tcp with path', text: 'tcp://docker:2375/v1', expected: false },
    { name: 'ssh is not supported', text: 'ssh://docker:22', expected: false },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(isDockerHost(text)).toBe(expected);
  });
});

describe('driverNameOfSocket', () => {
  const longest = `/${'a'.repeat(101)}.sock`;
  const cases = [
    { name: 'empty string', path: '', expected: undefined },
    { name: 'only .sock', path: '/run/.sock', expected: undefined },
    { name: 'longest allowed path (107 bytes)', path: longest, expected: 'a'.repeat(101) },
    { name: 'one byte too long', path: `/b${longest}`, expected: undefined },
    {
      name: 'multi-byte characters count as bytes',
      path: `/${'é'.repeat(51)}.sock`,
      expected: undefined,
    },
    {
      name: 'default socket',
      path: '/run/docker/plugins/kontena-ipam.sock',
      expected: 'kontena-ipam',
    },
    { name: 'relative path', path: 'kontena-ipam.sock', expected: undefined },
    { name: 'other extension', path: '/run/kontena-ipam.socket', expected: undefined },
    { name: 'trailing slash', path: '/run/kontena-ipam.sock/', expected: undefined },
  ];
  it.each(cases)('$name', ({ path, expected }) => {
    expect(driverNameOfSocket(path)).toBe(expected);
  });
});

describe('redactUserinfo', () => {
  const cases = [
    { name: 'empty string', text: '', expected: '' },
    { name: 'no credentials', text: 'http://etcd:2379', expected: 'http://etcd:2379' },
    { name: 'user and password', text: 'http://u:p@etcd:2379', expected: 'http://***@etcd:2379' },
    {
      name: 'every item of a list',
      text: 'http://a@x,https://b:c@y',
      expected: 'http://***@x,https://***@y',
    },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(redactUserinfo(text)).toBe(expected);
  });
});
