import { BrokenCircuitError } from 'cockatiel';
import { ClientClosedError, castGrpcError } from 'etcd3';
import { describe, expect, it } from 'vitest';
import {
  blocksEveryRequest,
  classifyEtcdError,
  describeEtcdError,
  isRetried,
  refusesThisRequest,
  scrub,
  type EtcdPeer,
} from './etcd-errors.js';

/** An error as grpc-js rejects a call with it, typed the way etcd3 types it. */
const grpc = (code: number, message: string): Error =>
  castGrpcError(Object.assign(new Error(message), { code }));

const peer: EtcdPeer = {
  endpoints: ['http://etcd-1:2379', 'http://etcd-2:2379'],
  root: '/kontena/ipam',
  username: 'ipam',
  password: 's3cret',
};

describe('classifyEtcdError and describeEtcdError', () => {
  it.each([
    {
      name: 'a reply over gRPC’s 4 MiB limit (a range too large for one message)',
      err: grpc(8, '8 RESOURCE_EXHAUSTED: Received message larger than max (5018633 vs 4194304)'),
      failure: 'too-large',
      sentence:
        "a message to or from etcd at http://etcd-1:2379,http://etcd-2:2379 exceeded gRPC's size limit, and would on every retry: 8 RESOURCE_EXHAUSTED: Received message larger than max (5018633 vs 4194304)",
    },
    {
      name: 'a full space quota',
      err: grpc(8, '8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded'),
      failure: 'quota',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 refused the write: its space quota is full (8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded); compact and defragment it',
    },
    {
      name: 'etcd too busy to take more requests',
      err: grpc(8, '8 RESOURCE_EXHAUSTED: etcdserver: too many requests'),
      failure: 'busy',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 is overloaded: 8 RESOURCE_EXHAUSTED: etcdserver: too many requests',
    },
    {
      name: 'another exhausted resource',
      err: grpc(8, '8 RESOURCE_EXHAUSTED: Bandwidth exhausted'),
      failure: 'exhausted',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 refused the request (resource exhausted): 8 RESOURCE_EXHAUSTED: Bandwidth exhausted',
    },
    {
      name: 'a transaction with too many operations',
      err: grpc(3, '3 INVALID_ARGUMENT: etcdserver: too many operations in txn request'),
      failure: 'invalid',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 refused the request as invalid: 3 INVALID_ARGUMENT: etcdserver: too many operations in txn request',
    },
    {
      name: 'a request over etcd’s own size limit',
      err: grpc(3, '3 INVALID_ARGUMENT: etcdserver: request is too large'),
      failure: 'invalid',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 refused the request as invalid: 3 INVALID_ARGUMENT: etcdserver: request is too large',
    },
    {
      name: 'wrong credentials (sent as INVALID_ARGUMENT)',
      err: grpc(
        3,
        '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password',
      ),
      failure: 'credentials',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 rejected the credentials of user ipam',
    },
    {
      name: 'an unauthenticated call',
      err: grpc(16, '16 UNAUTHENTICATED: etcdserver: user name is empty'),
      failure: 'credentials',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 rejected the credentials of user ipam',
    },
    {
      name: 'a prefix the user may not use',
      err: grpc(7, '7 PERMISSION_DENIED: etcdserver: permission denied'),
      failure: 'permission',
      sentence:
        'etcd at http://etcd-1:2379,http://etcd-2:2379 denied access to /kontena/ipam for user ipam',
    },
    {
      name: 'no connection',
      err: grpc(14, '14 UNAVAILABLE: No connection established'),
      failure: 'unreachable',
      sentence:
        'etcd is unreachable at http://etcd-1:2379,http://etcd-2:2379: 14 UNAVAILABLE: No connection established',
    },
    {
      name: 'a call past its deadline',
      err: grpc(4, '4 DEADLINE_EXCEEDED: Deadline exceeded'),
      failure: 'unreachable',
      sentence:
        'etcd is unreachable at http://etcd-1:2379,http://etcd-2:2379: 4 DEADLINE_EXCEEDED: Deadline exceeded',
    },
    {
      name: 'no leader',
      err: new Error('etcdserver: no leader'),
      failure: 'unreachable',
      sentence:
        'etcd is unreachable at http://etcd-1:2379,http://etcd-2:2379: etcdserver: no leader',
    },
    {
      name: 'every host’s circuit open',
      err: new BrokenCircuitError(),
      failure: 'unreachable',
      sentence: expect.stringMatching(/^etcd is unreachable at http:\/\/etcd-1:2379,/) as string,
    },
    {
      name: 'a pinned revision compacted meanwhile',
      err: grpc(11, '11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted'),
      failure: 'other',
      sentence:
        'etcd is unreachable at http://etcd-1:2379,http://etcd-2:2379: 11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted',
    },
    {
      name: 'our own client closed',
      err: new ClientClosedError('KV'),
      failure: 'closed',
      sentence: expect.stringMatching(/^etcd is unreachable at /) as string,
    },
  ])('should classify $name as $failure and say so', ({ err, failure, sentence }) => {
    expect(classifyEtcdError(err)).toBe(failure);
    expect(describeEtcdError(err, peer)).toEqual(sentence);
  });

  it.each([
    { failure: 'unreachable', retried: true, blocksAll: false, thisOne: false },
    { failure: 'busy', retried: true, blocksAll: false, thisOne: false },
    { failure: 'credentials', retried: false, blocksAll: true, thisOne: false },
    { failure: 'permission', retried: false, blocksAll: true, thisOne: false },
    { failure: 'quota', retried: false, blocksAll: true, thisOne: false },
    { failure: 'too-large', retried: false, blocksAll: false, thisOne: true },
    { failure: 'invalid', retried: false, blocksAll: false, thisOne: true },
    { failure: 'exhausted', retried: false, blocksAll: false, thisOne: false },
    { failure: 'closed', retried: false, blocksAll: false, thisOne: false },
    { failure: 'other', retried: false, blocksAll: false, thisOne: false },
  ] as const)(
    'should retry $failure: $retried; make every request fail: $blocksAll; refuse this request only: $thisOne',
    ({ failure, retried, blocksAll, thisOne }) => {
      expect(isRetried(failure)).toBe(retried);
      expect(blocksEveryRequest(failure)).toBe(blocksAll);
      expect(refusesThisRequest(failure)).toBe(thisOne);
    },
  );

  it('should name the space quota only when etcd says its database space is exceeded', () => {
    const exhausted = [
      '8 RESOURCE_EXHAUSTED: Received message larger than max (5018633 vs 4194304)',
      '8 RESOURCE_EXHAUSTED: etcdserver: too many requests',
      '8 RESOURCE_EXHAUSTED: Bandwidth exhausted',
      '8 RESOURCE_EXHAUSTED: etcdserver: mvcc: database space exceeded',
    ].map((m) => describeEtcdError(grpc(8, m), peer));
    expect(exhausted.map((s) => /quota|compact|defragment/.test(s))).toEqual([
      false,
      false,
      false,
      true,
    ]);
  });
});

describe('scrub', () => {
  it.each([
    {
      name: 'the password',
      message: 'auth s3cret failed',
      password: 's3cret',
      out: 'auth *** failed',
    },
    {
      name: 'nothing without a password',
      message: 'auth failed',
      password: undefined,
      out: 'auth failed',
    },
    {
      name: 'grpc-js’s empty resolution note and line breaks',
      message: '14 UNAVAILABLE: No connection\n established Resolution note: ',
      password: 's3cret',
      out: '14 UNAVAILABLE: No connection established',
    },
  ])('should remove $name', ({ message, password, out }) => {
    expect(scrub(message, password)).toBe(out);
  });

  it('should keep the password out of every sentence', () => {
    const err = grpc(14, '14 UNAVAILABLE: connect to http://ipam:s3cret@etcd-1 failed');
    expect(describeEtcdError(err, peer)).not.toContain('s3cret');
  });
});
