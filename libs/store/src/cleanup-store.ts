import { Injectable } from '@nestjs/common';
import type { IRequestOp } from 'etcd3';
import { AllocationStore } from './allocation-store.js';
import { EtcdConnection, type Deadline } from './etcd-connection.js';
import { guardedOutcome, ifUnchanged } from './guarded-write.js';
import { KeyLayout } from './keys.js';
import {
  buf,
  json,
  memberValue,
  memberWrittenBy,
  toAddress,
  toMember,
  toPool,
  toRegistration,
} from './kv-records.js';
import type {
  CleanupPassRecord,
  NodeMember,
  StoredAddress,
  StoredPool,
  StoredRegistration,
} from './records.js';

/** Addresses per cleanup delete transaction (etcd allows 128 operations per transaction). */
export const MAX_DELETE_BATCH = 100;

/**
 * The reads and guarded writes of the cleanup (apps/cleanup; docs/cleanup.md), used by
 * nothing else. Reads return records with their revisions; every delete or update is ONE
 * transaction that compares the mod revision the caller read (guarded-write.ts), so a key
 * written since (a new allocation, a join, a release) is never touched. Pool deletes are the
 * allocation store's deletePoolIfUnused.
 */
@Injectable()
export class CleanupStore {
  readonly keys: KeyLayout;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly allocation: AllocationStore,
  ) {
    this.keys = etcd.keys;
  }

  /** The deadline of a request that starts now (`ETCD_WAIT_TIMEOUT`). */
  deadline(): Deadline {
    return this.etcd.deadline();
  }

  /** The store's current revision: the cleanup pass's R (docs/cleanup.md). */
  async currentRevision(deadline: Deadline): Promise<string> {
    // Any read answers with the store's revision; one key (usually absent) keeps it cheap.
    const res = await this.etcd.txn(
      {
        compare: [],
        success: [{ request_range: { key: buf(`${this.keys.root}/`), keys_only: true } }],
        failure: [],
      },
      deadline,
      'current_revision',
    );
    return res.header.revision;
  }

  // Every list below is read in pages at one revision (EtcdConnection.pagedRange): one reply for
  // a pool of 30,000 addresses would exceed gRPC's 4 MiB message limit.

  /** Every pool, in key order, and the revision of that read. */
  async listPools(deadline: Deadline): Promise<{ pools: StoredPool[]; revision: string }> {
    const { items, revision } = await this.etcd.pagedRange(
      this.keys.poolsPrefix,
      deadline,
      { keysOnly: false },
      (kv) => {
        const key = this.keys.parse(kv.key.toString());
        return key.kind === 'pool' ? toPool(key.id, kv) : undefined;
      },
    );
    return { pools: items, revision };
  }

  /**
   * The registrations of the running plugins of one NODE_ID (node-registration.ts), in key
   * order: a registration listed now may be a stopped plugin's whose lease has not expired yet.
   */
  async listRegistrations(node: string, deadline: Deadline): Promise<StoredRegistration[]> {
    const { items } = await this.etcd.pagedRange(
      this.keys.registrationsOf(node),
      deadline,
      { keysOnly: false },
      (kv) => {
        const registration = toRegistration(this.keys, kv);
        return registration?.node === node ? registration : undefined;
      },
    );
    return items;
  }

  /** Every address of one pool, with its record and revisions, in key order. */
  async listAddresses(
    poolId: string,
    deadline: Deadline,
  ): Promise<{ addresses: StoredAddress[]; revision: string }> {
    const { items, revision } = await this.etcd.pagedRange(
      this.keys.addressesOf(poolId),
      deadline,
      { keysOnly: false },
      (kv) => {
        const key = this.keys.parse(kv.key.toString());
        return key.kind === 'address' && key.pool === poolId ? toAddress(key.ip, kv) : undefined;
      },
    );
    return { addresses: items, revision };
  }

  /** Every membership of one pool (one per node), in key order. */
  async listMembers(
    poolId: string,
    deadline: Deadline,
  ): Promise<{ members: NodeMember[]; revision: string }> {
    const { items, revision } = await this.etcd.pagedRange(
      this.keys.membersOf(poolId),
      deadline,
      { keysOnly: false },
      (kv): NodeMember | undefined => {
        const key = this.keys.parse(kv.key.toString());
        return key.kind === 'member' && key.pool === poolId
          ? { node: key.node, ...toMember(kv) }
          : undefined;
      },
    );
    return { members: items, revision };
  }

  /**
   * Every key under the prefix with its value, keys relative to the prefix (`pools/blue`), all
   * read at ONE revision: the consistency check's snapshot (`--check`), in pages (a page of
   * 5,000 keys with values is ~1 MiB).
   */
  async snapshot(
    deadline: Deadline,
    pageSize = 5_000,
  ): Promise<{ entries: { key: string; value: string }[]; revision: string }> {
    const root = `${this.keys.root}/`;
    const { items, revision } = await this.etcd.pagedRange(
      root,
      deadline,
      { keysOnly: false, pageSize },
      (kv) => {
        const key = KeyLayout.tail(kv.key.toString(), root);
        return key === undefined ? undefined : { key, value: kv.value.toString() };
      },
    );
    return { entries: items, revision };
  }

  /**
   * Deletes addresses if they have not changed since they were read (the cleanup's frees), up to
   * MAX_DELETE_BATCH in ONE transaction: the outer one compares nothing, each address is a nested
   * transaction comparing its own mod revision, so each one is deleted or kept on its own. Unlike
   * a release (deleteAddress) an address released and taken again meanwhile reports 'changed':
   * the cleanup did not free it. One gone already reports 'deleted': a retried delete of ours
   * leaves no other trace. The results are in the order of `addresses`; the IPs must be distinct.
   */
  async deleteAddressesIfUnchanged(
    poolId: string,
    addresses: readonly StoredAddress[],
    deadline: Deadline,
  ): Promise<('deleted' | 'changed')[]> {
    if (addresses.length > MAX_DELETE_BATCH) {
      throw new Error(`at most ${MAX_DELETE_BATCH} addresses per delete, not ${addresses.length}`);
    }
    if (addresses.length === 0) {
      return [];
    }
    const res = await this.etcd.txn(
      {
        compare: [],
        success: addresses.map((address): IRequestOp => ({
          request_txn: ifUnchanged(
            buf(this.keys.address(poolId, address.ip)),
            address.modRevision,
            { delete: true },
            { keysOnly: true },
          ),
        })),
        failure: [],
      },
      deadline,
      'cleanup_delete_addresses',
    );
    return addresses.map((_, i) => {
      const nested = res.responses[i]?.response_txn;
      if (nested === undefined) {
        throw new Error(`etcd answered a batched delete without result ${i}`);
      }
      const outcome = guardedOutcome(nested);
      return outcome.applied || !outcome.now ? 'deleted' : 'changed';
    });
  }

  /**
   * Deletes one node's membership of a pool if it has not changed since it was read (no join or
   * release meanwhile). A membership already gone counts as deleted: a retried delete of ours
   * leaves no other trace, and the outcome is the same.
   */
  async deleteMemberIfUnchanged(
    poolId: string,
    member: NodeMember,
    deadline: Deadline,
  ): Promise<'deleted' | 'changed'> {
    const key = buf(this.keys.member(poolId, member.node));
    const res = await this.etcd.txn(
      ifUnchanged(key, member.modRevision, { delete: true }),
      deadline,
      'cleanup_delete_member',
    );
    const outcome = guardedOutcome(res);
    return outcome.applied || !outcome.now ? 'deleted' : 'changed';
  }

  /**
   * Sets the reference count of one node's membership if it has not changed since it was read.
   * The nonce recognises a retried commit of our own, as in joinPool.
   */
  async setMemberRefs(
    poolId: string,
    member: NodeMember,
    refs: number,
    nonce: string,
    deadline: Deadline,
  ): Promise<'set' | 'changed'> {
    const key = buf(this.keys.member(poolId, member.node));
    const res = await this.etcd.txn(
      ifUnchanged(key, member.modRevision, { put: memberValue(refs, nonce, member.record) }),
      deadline,
      'cleanup_set_refs',
    );
    const outcome = guardedOutcome(res);
    return outcome.applied || memberWrittenBy(outcome.now, nonce) ? 'set' : 'changed';
  }

  /**
   * Records this node's last successful pass (`cleanup-passes/<NODE_ID>`), overwriting the one
   * before: a status for operators (`kontena-ipam-ctl show`), compared by nothing.
   */
  async recordPass(node: string, pass: CleanupPassRecord, deadline: Deadline): Promise<void> {
    await this.etcd.txn(
      {
        compare: [],
        success: [{ request_put: { key: buf(this.keys.cleanupPass(node)), value: json(pass) } }],
        failure: [],
      },
      deadline,
      'record_cleanup_pass',
    );
  }

  /** Deletes a pool no node is a member of: AllocationStore.deletePoolIfUnused. */
  deletePoolIfUnused(pool: StoredPool, network: string, deadline: Deadline): Promise<boolean> {
    return this.allocation.deletePoolIfUnused(pool, network, deadline);
  }
}
