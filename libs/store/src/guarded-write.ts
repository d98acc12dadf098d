import type { ICompare, IKeyValue, IRequestOp, IResponseOp } from 'etcd3';
import { rangeKvs } from './kv-records.js';

/** A transaction request: the top level of one, or a nested one (`request_txn`). */
export interface TxnRequest {
  compare: ICompare[];
  success: IRequestOp[];
  failure: IRequestOp[];
}

/** What a key that is still as it was read gets: deleted, or this value. */
export type GuardedWrite = { delete: true } | { put: Buffer };

/** What a guarded write did: applied, or not, with the key as it is now (undefined: gone). */
export type GuardedOutcome = { applied: true } | { applied: false; now: IKeyValue | undefined };

/**
 * "Compare the mod revision I read, then write or delete": a transaction that applies `write`
 * to `key` only if its mod revision is still `modRevision`, and otherwise reads the key back
 * in the same round trip (keys only with `keysOnly`), so the caller can tell a key that is gone
 * from one changed since, and recognise a retried commit of its own (see guardedOutcome).
 */
export function ifUnchanged(
  key: Buffer,
  modRevision: string,
  write: GuardedWrite,
  options: { keysOnly?: boolean } = {},
): TxnRequest {
  return {
    compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: modRevision }],
    success: [
      'put' in write
        ? { request_put: { key, value: write.put } }
        : { request_delete_range: { key } },
    ],
    failure: [{ request_range: options.keysOnly ? { key, keys_only: true } : { key } }],
  };
}

/** Reads the answer to an `ifUnchanged` transaction (top level or nested). */
export function guardedOutcome(res: {
  succeeded: boolean;
  responses: IResponseOp[];
}): GuardedOutcome {
  return res.succeeded ? { applied: true } : { applied: false, now: rangeKvs(res.responses[0])[0] };
}
