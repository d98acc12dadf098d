import type { ICompare, IRequestOp } from 'etcd3';
import type { TxnRequest } from './guarded-write.js';
import { prefixEnd, type KeyLayout } from './keys.js';
import { buf, json } from './kv-records.js';
import type { AddressRecord, StoredPool } from './records.js';

// The compares and writes that several allocation transactions share (libs/store/README.md,
// "Transactions").

/** The pool key still has the create revision read: the same pool, not deleted or re-created. */
export function samePool(keys: KeyLayout, pool: StoredPool): ICompare {
  return {
    key: buf(keys.pool(pool.id)),
    target: 'Create',
    result: 'Equal',
    create_revision: pool.createRevision,
  };
}

/**
 * "No member but `node`": the membership ranges before and after its key are both empty (an
 * empty range compares as a key at version 0).
 */
export function noOtherMember(keys: KeyLayout, poolId: string, node: string): ICompare[] {
  const membersKey = buf(keys.membersOf(poolId));
  const memberKey = buf(keys.member(poolId, node));
  return [
    { key: membersKey, range_end: memberKey, target: 'Version', result: 'Equal', version: 0 },
    {
      key: Buffer.concat([memberKey, Buffer.from([0])]),
      range_end: prefixEnd(membersKey),
      target: 'Version',
      result: 'Equal',
      version: 0,
    },
  ];
}

/** The deletes that remove a pool: its key, its subnet key and all its addresses. */
export function poolDeletion(keys: KeyLayout, poolId: string, network: string): IRequestOp[] {
  const addressesKey = buf(keys.addressesOf(poolId));
  return [
    { request_delete_range: { key: buf(keys.pool(poolId)) } },
    { request_delete_range: { key: buf(keys.subnet(network)) } },
    { request_delete_range: { key: addressesKey, range_end: prefixEnd(addressesKey) } },
  ];
}

/**
 * reserveAddress's transaction (also nested, one per address, in reserveAddresses): the pool is
 * the same and the address key does not exist; on failure both keys are read back.
 */
export function reservation(
  keys: KeyLayout,
  pool: StoredPool,
  ip: string,
  record: AddressRecord,
  nonce: string,
): TxnRequest {
  const key = buf(keys.address(pool.id, ip));
  return {
    compare: [samePool(keys, pool), { key, target: 'Create', result: 'Equal', create_revision: 0 }],
    success: [{ request_put: { key, value: json({ ...record, req: nonce }) } }],
    failure: [{ request_range: { key: buf(keys.pool(pool.id)) } }, { request_range: { key } }],
  };
}
