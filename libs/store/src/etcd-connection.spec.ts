import { Logger } from '@nestjs/common';
import { castGrpcError } from 'etcd3';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '#app/config';
import { RequestRefused, StoreUnavailable } from './errors.js';
import { EtcdConnection } from './etcd-connection.js';

/** An error as grpc-js rejects a call with it, typed the way etcd3 types it. */
const grpc = (code: number, message: string): Error =>
  castGrpcError(Object.assign(new Error(message), { code }));

// No client and no probe (onModuleInit is not called): withEtcd runs the calls it is given, on
// an etcd whose Status says `version`.
function connectionTo(version: string) {
  const etcd = new EtcdConnection(
    loadConfig({ NODE_ID: 'unit', ETCD_ENDPOINT: 'http://etcd-1:2379', ETCD_WAIT_TIMEOUT: '1' }),
  );
  const readVersion = vi.spyOn(etcd, 'serverVersion').mockResolvedValue(version);
  return { etcd, readVersion };
}

const connection = (): EtcdConnection => connectionTo('3.4.23').etcd;

const refusal = (version: string): string =>
  `etcd ${version} at http://etcd-1:2379: kontena-ipam needs etcd 3.3 or newer (range compares)`;

/** Runs withEtcd over a call that first succeeds once, then always fails with `err`. */
async function failWith(err: Error, waitMs: number) {
  const etcd = connection();
  await etcd.withEtcd(() => Promise.resolve('up'), Date.now() + waitMs);
  let calls = 0;
  const started = performance.now();
  const outcome = await etcd
    .withEtcd(() => {
      calls++;
      return Promise.reject(err);
    }, Date.now() + waitMs)
    .catch((e: unknown) => e);
  return { outcome, calls, ms: performance.now() - started, status: etcd.status() };
}

describe('EtcdConnection.withEtcd', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it.each([
    {
      name: 'a reply over gRPC’s size limit',
      err: grpc(8, '8 RESOURCE_EXHAUSTED: Received message larger than max (5018633 vs 4194304)'),
      says: /exceeded gRPC's size limit, and would on every retry: .*larger than max/,
      ready: true,
      onlyThis: true,
    },
    {
      name: 'an invalid request',
      err: grpc(3, '3 INVALID_ARGUMENT: etcdserver: too many operations in txn request'),
      says: /refused the request as invalid: .*too many operations/,
      ready: true,
      onlyThis: true,
    },
    {
      name: 'a full space quota',
      err: grpc(8, '8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded'),
      says: /its space quota is full .*; compact and defragment it$/,
      ready: false,
      onlyThis: false,
    },
    {
      name: 'a permission denied',
      err: grpc(7, '7 PERMISSION_DENIED: etcdserver: permission denied'),
      says: /denied access to \/kontena\/ipam for user \(none\)$/,
      ready: false,
      onlyThis: false,
    },
  ])('should fail at once on $name, with what happened', async ({ err, says, ready, onlyThis }) => {
    const { outcome, calls, ms, status } = await failWith(err, 10_000);
    expect(outcome).toBeInstanceOf(StoreUnavailable);
    // A refusal of this request alone says so: a batch it belongs to is worth splitting.
    expect(outcome instanceof RequestRefused).toBe(onlyThis);
    expect((outcome as Error).message).toMatch(says);
    expect(calls).toBe(1);
    expect(ms).toBeLessThan(1_000);
    // Only a refusal of every request makes the store not ready (/readyz).
    expect(status.ready).toBe(ready);
  });

  it.each([
    { name: 'no connection', err: grpc(14, '14 UNAVAILABLE: No connection established') },
    { name: 'etcd too busy', err: grpc(8, '8 RESOURCE_EXHAUSTED: etcdserver: too many requests') },
  ])('should retry $name until the deadline, then give up', async ({ err }) => {
    const { outcome, calls, ms, status } = await failWith(err, 600);
    expect(outcome).toBeInstanceOf(StoreUnavailable);
    expect((outcome as Error).message).toMatch(/\(gave up after waiting 1 s\)$/);
    expect(calls).toBeGreaterThan(1);
    expect(ms).toBeGreaterThanOrEqual(500);
    expect(status.ready).toBe(false);
  });

  it('should stop waiting when the plugin shuts down, and say so', async () => {
    const etcd = connection();
    const err = grpc(14, '14 UNAVAILABLE: No connection established');
    const started = performance.now();
    const waiting = etcd.withEtcd(() => Promise.reject(err), Date.now() + 30_000);
    setTimeout(() => void etcd.onModuleDestroy(), 150);
    const outcome = await waiting.catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(StoreUnavailable);
    expect((outcome as Error).message).toMatch(/\(stopped waiting: the plugin is shutting down\)$/);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('should hand any other error to the caller as it is (a compacted revision)', async () => {
    const err = grpc(11, '11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted');
    const { outcome, calls } = await failWith(err, 10_000);
    expect(outcome).toBe(err);
    expect(calls).toBe(1);
  });

  it.each([
    { name: 'the last 3.2', version: '3.2.32', refused: true },
    { name: 'the first 3.3', version: '3.3.0', refused: false },
    { name: 'the installed 3.4', version: '3.4.23', refused: false },
  ])('should refuse every call on etcd $version ($name), at once', async ({ version, refused }) => {
    const { etcd, readVersion } = connectionTo(version);
    let calls = 0;
    const call = (): Promise<string> => {
      calls++;
      return Promise.resolve('done');
    };
    const outcomes: unknown[] = [];
    for (let attempt = 0; attempt < 2; attempt++) {
      outcomes.push(
        await etcd
          .withEtcd(call, Date.now() + 10_000)
          .catch((e: unknown) => (e instanceof StoreUnavailable ? e.message : e)),
      );
    }
    expect(outcomes).toEqual(refused ? [refusal(version), refusal(version)] : ['done', 'done']);
    expect(calls).toBe(refused ? 0 : 2);
    // Read once, not per call: the version is known until the connection is lost.
    expect(readVersion).toHaveBeenCalledTimes(1);
    expect(etcd.status()).toEqual(
      refused ? { ready: false, detail: refusal(version) } : { ready: true, detail: 'ok' },
    );
  });

  it('should read the version again after a lost connection', async () => {
    const { etcd, readVersion } = connectionTo('3.4.23');
    await etcd.withEtcd(() => Promise.resolve('up'), Date.now() + 10_000);
    // The connection drops; whoever answers next (an etcd replaced meanwhile) says 3.2.
    readVersion.mockResolvedValue('3.2.26');
    let first = true;
    const outcome = await etcd
      .withEtcd(() => {
        if (first) {
          first = false;
          return Promise.reject(grpc(14, '14 UNAVAILABLE: No connection established'));
        }
        return Promise.resolve('written');
      }, Date.now() + 10_000)
      .catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(StoreUnavailable);
    expect((outcome as Error).message).toBe(refusal('3.2.26'));
    expect(readVersion).toHaveBeenCalledTimes(2);
  });
});
