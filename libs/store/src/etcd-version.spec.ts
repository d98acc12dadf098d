import { Logger } from '@nestjs/common';
import { castGrpcError } from 'etcd3';
import { beforeAll, describe, expect, it } from 'vitest';

import { StoreUnavailable } from './errors.js';
import { EtcdVersionGate, parseEtcdVersion, versionProblem } from './etcd-version.js';

describe('parseEtcdVersion', () => {
  it.each([
    { name: 'empty', text: '', expected: undefined },
    { name: 'one number', text: '3', expected: undefined },
    { name: 'not a number', text: 'three.four', expected: undefined },
    { name: 'a digit after the minor', text: '3.4x', expected: undefined },
    { name: 'major and minor only', text: '3.4', expected: { major: 3, minor: 4 } },
    { name: 'a release', text: '3.4.23', expected: { major: 3, minor: 4 } },
    { name: 'a pre-release', text: '3.6.0-rc.1', expected: { major: 3, minor: 6 } },
    { name: 'with a v', text: 'v3.5.9', expected: { major: 3, minor: 5 } },
    { name: 'two-digit minor', text: '3.10.0', expected: { major: 3, minor: 10 } },
  ])('$name: $text', ({ text, expected }) => {
    expect(parseEtcdVersion(text)).toEqual(expected);
  });
});

describe('versionProblem', () => {
  const where = 'http://etcd-1:2379';
  it.each([
    {
      name: 'no version at all',
      version: '',
      expected: `etcd of unknown version at ${where}: kontena-ipam needs etcd 3.3 or newer (range compares)`,
    },
    {
      name: 'not a version',
      version: 'devel',
      expected: `etcd devel at ${where}: kontena-ipam needs etcd 3.3 or newer (range compares)`,
    },
    {
      name: 'the last 3.2',
      version: '3.2.32',
      expected: `etcd 3.2.32 at ${where}: kontena-ipam needs etcd 3.3 or newer (range compares)`,
    },
    {
      name: 'an etcd 2',
      version: '2.3.8',
      expected: `etcd 2.3.8 at ${where}: kontena-ipam needs etcd 3.3 or newer (range compares)`,
    },
    { name: 'the first 3.3', version: '3.3.0', expected: undefined },
    { name: 'a 3.4', version: '3.4.23', expected: undefined },
    { name: 'a 3.10', version: '3.10.1', expected: undefined },
    { name: 'a 4.0', version: '4.0.0', expected: undefined },
  ])('$name: $version', ({ version, expected }) => {
    expect(versionProblem(version, where)).toBe(expected);
  });
});

function soon(): Date {
  return new Date(Date.now() + 1_000);
}

describe('EtcdVersionGate', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('should read the version once for concurrent callers', async () => {
    let reads = 0;
    const gate = new EtcdVersionGate(async () => {
      reads++;
      await new Promise((r) => setTimeout(r, 10));
      return '3.4.23';
    }, 'http://etcd-1:2379');
    expect(gate.open).toBe(false);
    await Promise.all([gate.admit(soon()), gate.admit(soon()), gate.admit(soon())]);
    expect(reads).toBe(1);
    expect(gate.open).toBe(true);
    gate.forget();
    expect(gate.open).toBe(false);
  });

  it('should let calls through when etcd will not tell this user its version', async () => {
    const denied = castGrpcError(
      Object.assign(new Error('7 PERMISSION_DENIED: etcdserver: permission denied'), { code: 7 }),
    );
    const gate = new EtcdVersionGate(() => Promise.reject(denied), 'http://etcd-1:2379');
    await gate.admit(soon());
    expect(gate.open).toBe(true);
    expect(gate.problem).toBeUndefined();
  });

  it('should hand any other failure of the read to the caller, and stay closed', async () => {
    const down = new Error('14 UNAVAILABLE: No connection established');
    const gate = new EtcdVersionGate(() => Promise.reject(down), 'http://etcd-1:2379');
    await expect(gate.admit(soon())).rejects.toBe(down);
    expect(gate.open).toBe(false);
  });

  it('should open once a refresh reads a supported version (an etcd upgraded in place)', async () => {
    let version = '3.2.26';
    const gate = new EtcdVersionGate(() => Promise.resolve(version), 'http://etcd-1:2379');
    await expect(gate.admit(soon())).rejects.toBeInstanceOf(StoreUnavailable);
    expect(gate.problem).toMatch(/^etcd 3\.2\.26 at/);
    version = '3.4.23';
    await gate.refresh(soon());
    expect(gate.problem).toBeUndefined();
    await gate.admit(soon());
  });
});
