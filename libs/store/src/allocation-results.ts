import type { IKeyValue, IResponseOp } from 'etcd3';
import { rangeKvs, toAddress } from './kv-records.js';
import type { StoredAddress, StoredMember, StoredPool } from './records.js';

// What the allocation transactions answer, and how a failed one's read-backs are read.

/** Outcome of createPool. */
export type CreatePoolResult =
  | { kind: 'created'; pool: StoredPool }
  | { kind: 'exists'; pool: StoredPool }
  /** another subnet was written since the read: re-read and choose again */
  | { kind: 'subnets-changed' };

export type JoinResult =
  { kind: 'joined'; refs: number } | { kind: 'pool-gone' } | { kind: 'retry' };

export type LeaveResult =
  | { kind: 'decremented'; refs: number }
  | { kind: 'left' }
  | { kind: 'pool-deleted' }
  | { kind: 'retry' };

export type ReserveResult =
  { kind: 'reserved' } | { kind: 'taken'; existing: StoredAddress } | { kind: 'pool-gone' };

/**
 * What a failed reservation means, from its failure reads (the pool key, then the address key):
 * our own earlier commit (the address carries our nonce), taken by somebody else, or the pool
 * is gone (deleted, or re-created under the same name).
 */
export function reserveOutcome(
  pool: StoredPool,
  ip: string,
  nonce: string,
  responses: IResponseOp[],
): ReserveResult {
  const poolKv = rangeKvs(responses[0])[0];
  const addrKv = rangeKvs(responses[1])[0];
  if (addrKv) {
    const existing = toAddress(ip, addrKv);
    if (existing.record.req === nonce) {
      return { kind: 'reserved' };
    }
    if (poolKv && poolKv.create_revision === pool.createRevision) {
      return { kind: 'taken', existing };
    }
  }
  return { kind: 'pool-gone' };
}

/**
 * After a leave whose compares failed: when the membership that was read is gone (deleted, or
 * deleted and taken again by a later join), the references it counted are released already, by
 * our own earlier commit whose reply was lost or by another release of this node; releasing
 * again would take a reference that a later join added. Otherwise the caller reads again.
 */
export function leaveOutcome(
  pool: StoredPool,
  member: StoredMember,
  memberNow: IKeyValue | undefined,
  poolNow: IKeyValue | undefined,
): LeaveResult {
  if (member.createRevision === undefined || memberNow?.create_revision === member.createRevision) {
    return { kind: 'retry' };
  }
  return poolNow?.create_revision === pool.createRevision
    ? { kind: 'left' }
    : { kind: 'pool-deleted' };
}
