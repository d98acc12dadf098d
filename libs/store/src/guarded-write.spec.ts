import { describe, expect, it } from 'vitest';
import type { IKeyValue, IResponseOp } from 'etcd3';
import { guardedOutcome, ifUnchanged, type GuardedWrite } from './guarded-write.js';

const key = Buffer.from('/p/addresses/blue/10.0.0.7');
const value = Buffer.from('{"refs":2}');
const now = { key, value, mod_revision: '12', create_revision: '9' } as unknown as IKeyValue;
const range = (kvs: IKeyValue[]): IResponseOp => ({ response_range: { kvs } }) as IResponseOp;

describe('ifUnchanged', () => {
  it.each<{
    name: string;
    write: GuardedWrite;
    keysOnly?: boolean;
    success: unknown;
    read: unknown;
  }>([
    {
      name: 'a delete, reading the key back with its value',
      write: { delete: true },
      success: { request_delete_range: { key } },
      read: { key },
    },
    {
      name: 'a delete, reading back keys only',
      write: { delete: true },
      keysOnly: true,
      success: { request_delete_range: { key } },
      read: { key, keys_only: true },
    },
    {
      name: 'a put of a new value',
      write: { put: value },
      success: { request_put: { key, value } },
      read: { key },
    },
  ])(
    'should compare the mod revision read, then apply $name',
    ({ write, keysOnly, success, read }) => {
      expect(ifUnchanged(key, '11', write, { keysOnly })).toEqual({
        compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: '11' }],
        success: [success],
        failure: [{ request_range: read }],
      });
    },
  );
});

describe('guardedOutcome', () => {
  it.each([
    { name: 'applied', res: { succeeded: true, responses: [] }, outcome: { applied: true } },
    {
      name: 'not applied, the key gone',
      res: { succeeded: false, responses: [range([])] },
      outcome: { applied: false, now: undefined },
    },
    {
      name: 'not applied, the key changed since',
      res: { succeeded: false, responses: [range([now])] },
      outcome: { applied: false, now },
    },
    {
      name: 'not applied, without a read-back (an empty nested answer)',
      res: { succeeded: false, responses: [] },
      outcome: { applied: false, now: undefined },
    },
  ])('should read $name', ({ res, outcome }) => {
    expect(guardedOutcome(res)).toEqual(outcome);
  });
});
