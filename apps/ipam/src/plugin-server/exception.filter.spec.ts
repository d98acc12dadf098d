import {
  BadRequestException,
  type ArgumentsHost,
  HttpException,
  NotFoundException,
  PayloadTooLargeException,
} from '@nestjs/common';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  AddressInUse,
  AddressOutOfRange,
  InvalidRequest,
  type IpamError,
  type IpamErrorCode,
  PoolExhausted,
  PoolMismatch,
  PoolNotFound,
  SubnetConflict,
  SupernetExhausted,
  Unsupported,
} from '#app/ipam';
import { StoreUnavailable } from '#app/store';
import type { IpamConfig } from '#app/config';

import { IpamExceptionFilter, mapException, statusOfIpamError } from './exception.filter.js';

/** Typed as a complete Record so that a new IpamErrorCode without a row fails to compile. */
const STATUS_BY_CODE: Record<IpamErrorCode, number> = {
  'invalid-request': 400,
  unsupported: 400,
  'pool-not-found': 400,
  'pool-mismatch': 400,
  'subnet-conflict': 400,
  'supernet-exhausted': 400,
  'address-out-of-range': 400,
  'address-in-use': 400,
  'pool-exhausted': 400,
  'store-unavailable': 503,
};

const DOMAIN_ERRORS: IpamError[] = [
  new InvalidRequest('SubPool 10.1.0.0/24 is not inside Pool 10.0.0.0/16'),
  new Unsupported('IPv6 pools are not supported'),
  new PoolNotFound('kontena'),
  new PoolMismatch('pool kontena exists with Pool 10.81.0.0/16, not 10.82.0.0/16'),
  new SubnetConflict('10.81.0.0/16', 'other'),
  new SupernetExhausted(['10.80.0.0/12']),
  new AddressOutOfRange('address 10.9.0.1 is not inside pool kontena (10.81.0.0/16)'),
  new AddressInUse('10.81.0.10', 'kontena'),
  new PoolExhausted('kontena'),
  new StoreUnavailable('etcd is unreachable at http://127.0.0.1:2379'),
];

describe('statusOfIpamError', () => {
  it.each(Object.entries(STATUS_BY_CODE))('%s -> %i', (code, status) => {
    expect(statusOfIpamError(code as IpamErrorCode)).toBe(status);
  });
});

describe('mapException', () => {
  it('has one domain error row per code', () => {
    expect(new Set(DOMAIN_ERRORS.map((e) => e.code))).toEqual(new Set(Object.keys(STATUS_BY_CODE)));
  });

  it.each(DOMAIN_ERRORS.map((e) => ({ name: e.name, error: e })))(
    '$name keeps its message',
    ({ error }) => {
      expect(mapException(error)).toEqual({
        status: STATUS_BY_CODE[error.code],
        message: error.message,
      });
    },
  );

  it.each([
    {
      name: 'router 404',
      error: new NotFoundException('Cannot POST /IpamDriver.Nope'),
      status: 404,
      message: 'Cannot POST /IpamDriver.Nope',
    },
    {
      name: 'validation 400',
      error: new BadRequestException('PoolID is required'),
      status: 400,
      message: 'PoolID is required',
    },
    {
      name: 'default message',
      error: new PayloadTooLargeException(),
      status: 413,
      message: 'Payload Too Large',
    },
    {
      name: 'message list',
      error: new BadRequestException(['a is bad', 'b is bad']),
      status: 400,
      message: 'a is bad; b is bad',
    },
    {
      name: 'string response',
      error: new HttpException('teapot', 418),
      status: 418,
      message: 'teapot',
    },
  ])('HttpException: $name', ({ error, status, message }) => {
    expect(mapException(error)).toEqual({ status, message });
  });

  it.each([
    {
      name: 'Error',
      error: new TypeError('x is undefined'),
      message: 'internal error: x is undefined',
    },
    { name: 'string', error: 'boom', message: 'internal error: boom' },
    { name: 'undefined', error: undefined, message: 'internal error: undefined' },
  ])('anything else is a 500: $name', ({ error, message }) => {
    expect(mapException(error)).toEqual({ status: 500, message, bug: error });
  });
});

describe('IpamExceptionFilter', () => {
  const config = { etcd: { prefix: '/kontena/ipam' } } as IpamConfig;

  afterEach(() => {
    vi.restoreAllMocks();
  });

  function respond(exception: unknown, prefix = config) {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    const end = vi.spyOn(res, 'end');
    const host = {
      switchToHttp: () => ({ getResponse: () => res }),
    } as unknown as ArgumentsHost;
    new IpamExceptionFilter(prefix).catch(exception, host);
    const body = String(end.mock.calls[0]?.[0]);
    return { res, body: JSON.parse(body) as unknown };
  }

  it('writes {"Err","Error"} with the exact content type', () => {
    const { res, body } = respond(new AddressInUse('10.81.0.10', 'kontena'));
    expect(res.statusCode).toBe(400);
    expect(res.getHeader('content-type')).toBe('application/json');
    const message = 'address 10.81.0.10 is already allocated in pool kontena';
    expect(body).toEqual({ Err: message, Error: message });
  });

  it('answers 503 when etcd stayed unreachable', () => {
    const { res } = respond(new StoreUnavailable('etcd is unreachable'));
    expect(res.statusCode).toBe(503);
  });

  it('logs a bug at error and answers 500', () => {
    vi.spyOn(process.stderr, 'write').mockReturnValue(true);
    const { res, body } = respond(new Error('boom'));
    expect(res.statusCode).toBe(500);
    expect(body).toEqual({ Err: 'internal error: boom', Error: 'internal error: boom' });
  });

  it.each([
    {
      name: 'default prefix',
      prefix: '/kontena/ipam',
      text: 'key /kontena/ipam/pools/x is bad',
      out: 'key <etcd key> is bad',
    },
    {
      name: 'custom prefix',
      prefix: '/a.b',
      text: 'at /a.b/n/1, then',
      out: 'at <etcd key>, then',
    },
    {
      name: 'no key',
      prefix: '/kontena/ipam',
      text: 'pool x does not exist',
      out: 'pool x does not exist',
    },
    { name: 'empty prefix', prefix: '', text: 'pool x', out: 'pool x' },
  ])('never leaks etcd keys: $name', ({ prefix, text, out }) => {
    vi.spyOn(process.stderr, 'write').mockReturnValue(true);
    const { body } = respond(new Error(text), { etcd: { prefix } } as IpamConfig);
    expect(body).toEqual({ Err: `internal error: ${out}`, Error: `internal error: ${out}` });
  });
});
