import { Injectable } from '@nestjs/common';
import type { ICompare, IRequestOp } from 'etcd3';
import { Prefix } from '#app/net';
import {
  leaveOutcome,
  reserveOutcome,
  type CreatePoolResult,
  type JoinResult,
  type LeaveResult,
  type ReserveResult,
} from './allocation-results.js';
import { noOtherMember, poolDeletion, reservation, samePool } from './allocation-requests.js';
import { AddressFeed, type AddressFeedHandler } from './address-feed.js';
import { EtcdConnection, type Deadline } from './etcd-connection.js';
import { guardedOutcome, ifUnchanged } from './guarded-write.js';
import { prefixEnd, type KeyLayout } from './keys.js';
import {
  buf,
  json,
  memberValue,
  memberWrittenBy,
  rangeKvs,
  toAddress,
  toMember,
  toPool,
  toSubnet,
} from './kv-records.js';
import {
  decodeRecord,
  type AddressRecord,
  type PoolRecord,
  type StoredAddress,
  type StoredMember,
  type StoredPool,
  type StoredSubnet,
} from './records.js';
import { PoolFeed, type PoolFeedHandler, type PoolIdentity } from './pool-feed.js';
import { SubnetFeed, type SubnetFeedHandler } from './subnet-feed.js';

/** Most addresses reserved in one transaction (etcd's --max-txn-ops is 128 per list). */
export const MAX_RESERVE_BATCH = 64;
/** Count-only ranges per read-only transaction (countAddresses), under etcd's 128 operations. */
const MAX_COUNT_BATCH = 100;

/**
 * The allocation transactions (libs/store/README.md, "Transactions"): pools, memberships,
 * addresses, and the reads and watches they are chosen from. Each method that changes state is
 * ONE etcd transaction whose compares carry the correctness; the allocators own the policy and
 * the retry loops. Every call waits for etcd until the caller's deadline, then throws
 * StoreUnavailable.
 */
@Injectable()
export class AllocationStore {
  readonly keys: KeyLayout;

  constructor(private readonly etcd: EtcdConnection) {
    this.keys = etcd.keys;
  }

  /** The deadline of a request that starts now (`ETCD_WAIT_TIMEOUT`). */
  deadline(): Deadline {
    return this.etcd.deadline();
  }

  // ---------------------------------------------------------------- reads

  async getPool(id: string, deadline: Deadline): Promise<StoredPool | undefined> {
    const kv = await this.etcd.get(this.keys.pool(id), deadline);
    return kv ? toPool(id, kv) : undefined;
  }

  /** The pool and this node's membership, read in one snapshot. */
  async getPoolAndMember(
    id: string,
    node: string,
    deadline: Deadline,
  ): Promise<{ pool?: StoredPool; member?: StoredMember; otherMembers: number }> {
    const membersKey = buf(this.keys.membersOf(id));
    const res = await this.etcd.txn(
      {
        compare: [],
        success: [
          { request_range: { key: buf(this.keys.pool(id)) } },
          { request_range: { key: buf(this.keys.member(id, node)) } },
          {
            request_range: { key: membersKey, range_end: prefixEnd(membersKey), count_only: true },
          },
        ],
        failure: [],
      },
      deadline,
      'get_pool_and_member',
    );
    const poolKv = rangeKvs(res.responses[0])[0];
    const memberKv = rangeKvs(res.responses[1])[0];
    const total = Number(res.responses[2]?.response_range?.count ?? 0);
    return {
      pool: poolKv ? toPool(id, poolKv) : undefined,
      member: memberKv ? toMember(memberKv) : undefined,
      otherMembers: total - (memberKv ? 1 : 0),
    };
  }

  /** All reserved subnets and the revision they were read at (createPool's compare point). */
  async listSubnets(deadline: Deadline): Promise<{ subnets: StoredSubnet[]; revision: string }> {
    const { items, revision } = await this.etcd.pagedRange(
      this.keys.subnetsPrefix,
      deadline,
      { keysOnly: false },
      (kv) => toSubnet(this.keys, kv),
    );
    return { subnets: items, revision };
  }

  /** A pool and one of its addresses, read in one snapshot: ReleaseAddress's one round trip. */
  async getPoolAndAddress(
    poolId: string,
    ip: string,
    deadline: Deadline,
  ): Promise<{ pool?: StoredPool; address?: StoredAddress }> {
    const res = await this.etcd.txn(
      {
        compare: [],
        success: [
          { request_range: { key: buf(this.keys.pool(poolId)) } },
          { request_range: { key: buf(this.keys.address(poolId, ip)) } },
        ],
        failure: [],
      },
      deadline,
      'get_pool_and_address',
    );
    const poolKv = rangeKvs(res.responses[0])[0];
    const addressKv = rangeKvs(res.responses[1])[0];
    return {
      ...(poolKv ? { pool: toPool(poolId, poolKv) } : {}),
      ...(addressKv ? { address: toAddress(ip, addressKv) } : {}),
    };
  }

  /**
   * The IPs allocated in a pool (keys only) and the revision of that read; with `within` (an IP
   * text prefix such as `10.0.3.`), only the IPs that start with it. In pages at one revision
   * (EtcdConnection.pagedRange): a single reply for a pool of ~70,000 addresses would exceed
   * gRPC's 4 MiB message limit, and the pool could never be allocated from.
   */
  async listAddressKeys(
    poolId: string,
    deadline: Deadline,
    within = '',
  ): Promise<{ ips: string[]; revision: string }> {
    const { items, revision } = await this.etcd.pagedRange(
      `${this.keys.addressesOf(poolId)}${within}`,
      deadline,
      { keysOnly: true },
      (kv) => {
        const key = this.keys.parse(kv.key.toString());
        return key.kind === 'address' && key.pool === poolId ? key.ip : undefined;
      },
    );
    return { ips: items, revision };
  }

  /**
   * How many addresses of one pool start with each of `withins` (IP text prefixes such as
   * `10.0.3.`): count-only ranges, MAX_COUNT_BATCH per read-only transaction, no keys sent back.
   * A hint for choosing where in a big pool to allocate (libs/store/README.md, "Candidates").
   */
  async countAddresses(
    poolId: string,
    withins: readonly string[],
    deadline: Deadline,
  ): Promise<number[]> {
    const prefix = this.keys.addressesOf(poolId);
    const chunks: string[][] = [];
    for (let i = 0; i < withins.length; i += MAX_COUNT_BATCH) {
      chunks.push(withins.slice(i, i + MAX_COUNT_BATCH));
    }
    const counts = await Promise.all(
      chunks.map(async (chunk) => {
        const res = await this.etcd.txn(
          {
            compare: [],
            success: chunk.map((within): IRequestOp => {
              const key = buf(`${prefix}${within}`);
              return { request_range: { key, range_end: prefixEnd(key), count_only: true } };
            }),
            failure: [],
          },
          deadline,
          'count_addresses',
        );
        return chunk.map((_, i) => Number(res.responses[i]?.response_range?.count ?? 0));
      }),
    );
    return counts.flat();
  }

  /**
   * Which of `ips` (at most MAX_COUNT_BATCH) are allocated in a pool: one read-only transaction
   * of count-only reads of single keys, no values sent back. How an IPv6 pool too large to list
   * finds where its allocations end (libs/allocator/src/sequential-view.ts).
   */
  async addressesExist(
    poolId: string,
    ips: readonly string[],
    deadline: Deadline,
  ): Promise<boolean[]> {
    const res = await this.etcd.txn(
      {
        compare: [],
        success: ips.slice(0, MAX_COUNT_BATCH).map((ip): IRequestOp => ({
          request_range: { key: buf(this.keys.address(poolId, ip)), count_only: true },
        })),
        failure: [],
      },
      deadline,
      'addresses_exist',
    );
    return ips.map((_, i) => Number(res.responses[i]?.response_range?.count ?? 0) > 0);
  }

  // ---------------------------------------------------------- transactions

  /**
   * The cluster's IPv6 supernet (`supernet6`): `candidate` if no node chose one before
   * (create-if-absent), else the one stored. Every node then carves from the same supernet.
   * undefined when the stored value is not a supernet's record (the caller says what to do).
   */
  async claimSupernet6(
    candidate: string,
    nonce: string,
    deadline: Deadline,
  ): Promise<{ supernet?: string; created: boolean }> {
    const key = buf(this.keys.supernet6);
    const res = await this.etcd.txn(
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: json({ supernet: candidate, req: nonce }) } }],
        failure: [{ request_range: { key } }],
      },
      deadline,
      'claim_supernet6',
    );
    if (res.succeeded) {
      return { supernet: candidate, created: true };
    }
    const record = decodeRecord<{ supernet?: unknown; req?: unknown }>(
      rangeKvs(res.responses[0])[0]?.value,
    );
    const supernet = typeof record?.supernet === 'string' ? record.supernet : undefined;
    // Our own earlier attempt committed and its reply was lost: that is a create.
    return { ...(supernet !== undefined && { supernet }), created: record?.req === nonce };
  }

  /**
   * Creates a pool with its subnet reservation, gateway address and this node's membership.
   * Compares: the pool key does not exist, its subnet key does not exist either (whatever the
   * caller's view says, no reservation is ever overwritten), and no subnet key that could hold
   * an overlapping subnet (KeyLayout.subnetOverlapFence) was written after the revision the
   * caller chose the subnet at. Either all four keys are written or none.
   */
  async createPool(
    p: { id: string; record: PoolRecord; network: string; gatewayIp: string; node: string },
    readRevision: string,
    nonce: string,
    deadline: Deadline,
  ): Promise<CreatePoolResult> {
    const poolKey = buf(this.keys.pool(p.id));
    const record: PoolRecord = { ...p.record, req: nonce };
    // Only the subnet keys that could overlap this one, not all of `subnets/`: etcd reads every
    // key of a range compare, and with 1,000 pools that was half of the transaction's time.
    const fence = this.keys.subnetOverlapFence(Prefix.parse(p.record.subnet));
    const unchangedSince: Omit<ICompare, 'key'> = {
      target: 'Mod',
      result: 'Less',
      mod_revision: String(BigInt(readRevision) + 1n),
    };
    const fenceKey = buf(fence.prefix);
    const subnetKey = buf(this.keys.subnet(p.network));
    const gateway: AddressRecord = {
      address: p.record.gateway,
      node: p.node,
      type: 'gateway',
      req: nonce,
    };
    const res = await this.etcd.txn(
      {
        compare: [
          { key: poolKey, target: 'Create', result: 'Equal', create_revision: 0 },
          { key: subnetKey, target: 'Create', result: 'Equal', create_revision: 0 },
          { key: fenceKey, range_end: prefixEnd(fenceKey), ...unchangedSince },
          ...fence.keys.map((key) => ({ key: buf(key), ...unchangedSince })),
        ],
        success: [
          { request_put: { key: poolKey, value: json(record) } },
          {
            request_put: {
              key: subnetKey,
              value: json({ address: p.record.subnet, pool: p.id, req: nonce }),
            },
          },
          {
            request_put: {
              key: buf(this.keys.address(p.id, p.gatewayIp)),
              value: json(gateway),
            },
          },
          {
            request_put: {
              key: buf(this.keys.member(p.id, p.node)),
              value: memberValue(1, nonce),
            },
          },
        ],
        failure: [{ request_range: { key: poolKey } }],
      },
      deadline,
      'create_pool',
    );
    if (res.succeeded) {
      return {
        kind: 'created',
        pool: { id: p.id, record, createRevision: res.header.revision },
      };
    }
    const kv = rangeKvs(res.responses[0])[0];
    if (kv) {
      const pool = toPool(p.id, kv);
      // Our own earlier attempt committed and its reply was lost: that is success.
      return pool.record.req === nonce ? { kind: 'created', pool } : { kind: 'exists', pool };
    }
    return { kind: 'subnets-changed' };
  }

  /**
   * Adds one reference to this node's membership of an existing pool. Compares the pool's
   * create revision (so a pool deleted and re-created meanwhile is not joined by mistake) and the
   * membership's mod revision (so two concurrent joins on one node both count).
   */
  async joinPool(
    pool: StoredPool,
    node: string,
    member: StoredMember | undefined,
    nonce: string,
    deadline: Deadline,
  ): Promise<JoinResult> {
    const poolKey = buf(this.keys.pool(pool.id));
    const memberKey = buf(this.keys.member(pool.id, node));
    const refs = (member?.record.refs ?? 0) + 1;
    const res = await this.etcd.txn(
      {
        compare: [
          samePool(this.keys, pool),
          member
            ? { key: memberKey, target: 'Mod', result: 'Equal', mod_revision: member.modRevision }
            : { key: memberKey, target: 'Create', result: 'Equal', create_revision: 0 },
        ],
        success: [
          { request_put: { key: memberKey, value: memberValue(refs, nonce, member?.record) } },
        ],
        failure: [{ request_range: { key: poolKey } }, { request_range: { key: memberKey } }],
      },
      deadline,
      'join_pool',
    );
    if (res.succeeded) {
      return { kind: 'joined', refs };
    }
    // Our own earlier commit, even if another join or release of this node followed it.
    if (memberWrittenBy(rangeKvs(res.responses[1])[0], nonce)) {
      return { kind: 'joined', refs };
    }
    const poolNow = rangeKvs(res.responses[0])[0];
    if (!poolNow || poolNow.create_revision !== pool.createRevision) {
      return { kind: 'pool-gone' };
    }
    return { kind: 'retry' };
  }

  /**
   * Leave and, as the last member, delete, in one transaction: drops one reference of this
   * node's membership. When it was the last reference and no other node is a member, the pool,
   * its subnet, all its addresses and memberships go in the same commit; otherwise a nested
   * transaction removes only this node's membership. No state between "last member gone" and
   * "pool deleted" is ever visible.
   */
  async leavePool(
    pool: StoredPool,
    node: string,
    member: StoredMember,
    network: string,
    nonce: string,
    deadline: Deadline,
  ): Promise<LeaveResult> {
    const poolKey = buf(this.keys.pool(pool.id));
    const memberKey = buf(this.keys.member(pool.id, node));
    const poolCompare = samePool(this.keys, pool);
    const memberCompare: ICompare = {
      key: memberKey,
      target: 'Mod',
      result: 'Equal',
      mod_revision: member.modRevision,
    };
    if (member.record.refs > 1) {
      const refs = member.record.refs - 1;
      const res = await this.etcd.txn(
        {
          compare: [poolCompare, memberCompare],
          success: [
            { request_put: { key: memberKey, value: memberValue(refs, nonce, member.record) } },
          ],
          failure: [{ request_range: { key: memberKey } }, { request_range: { key: poolKey } }],
        },
        deadline,
        'leave_pool',
      );
      const now = rangeKvs(res.responses[0])[0];
      if (res.succeeded || memberWrittenBy(now, nonce)) {
        return { kind: 'decremented', refs };
      }
      return leaveOutcome(pool, member, now, rangeKvs(res.responses[1])[0]);
    }
    const membersKey = buf(this.keys.membersOf(pool.id));
    const res = await this.etcd.txn(
      {
        compare: [poolCompare, memberCompare, ...noOtherMember(this.keys, pool.id, node)],
        success: [
          ...poolDeletion(this.keys, pool.id, network),
          { request_delete_range: { key: membersKey, range_end: prefixEnd(membersKey) } },
        ],
        failure: [
          {
            request_txn: {
              compare: [poolCompare, memberCompare],
              success: [{ request_delete_range: { key: memberKey } }],
              failure: [],
            },
          },
          { request_range: { key: poolKey } },
          { request_range: { key: memberKey } },
        ],
      },
      deadline,
      'leave_pool',
    );
    if (res.succeeded) {
      return { kind: 'pool-deleted' };
    }
    if (res.responses[0]?.response_txn?.succeeded) {
      return { kind: 'left' };
    }
    // A retried commit of ours deleted the membership we read: recognised by its create revision.
    return leaveOutcome(pool, member, rangeKvs(res.responses[2])[0], rangeKvs(res.responses[1])[0]);
  }

  /**
   * Deletes a pool that no node is a member of (the cleanup's pool deletes). Compares the pool's
   * create revision and that its membership range is empty.
   */
  async deletePoolIfUnused(
    pool: StoredPool,
    network: string,
    deadline: Deadline,
  ): Promise<boolean> {
    const membersKey = buf(this.keys.membersOf(pool.id));
    const res = await this.etcd.txn(
      {
        compare: [
          samePool(this.keys, pool),
          {
            key: membersKey,
            range_end: prefixEnd(membersKey),
            target: 'Version',
            result: 'Equal',
            version: 0,
          },
        ],
        success: poolDeletion(this.keys, pool.id, network),
        failure: [],
      },
      deadline,
      'delete_pool_if_unused',
    );
    return res.succeeded;
  }

  /**
   * Reserves one address. Compares the pool's create revision (the pool still exists and is the
   * same pool) and that the address key does not exist. On failure the existing record comes
   * back in the same reply; if it carries our nonce, our earlier attempt committed.
   */
  async reserveAddress(
    pool: StoredPool,
    ip: string,
    record: AddressRecord,
    nonce: string,
    deadline: Deadline,
  ): Promise<ReserveResult> {
    const res = await this.etcd.txn(
      reservation(this.keys, pool, ip, record, nonce),
      deadline,
      'reserve_address',
    );
    return res.succeeded ? { kind: 'reserved' } : reserveOutcome(pool, ip, nonce, res.responses);
  }

  /**
   * reserveAddress for several addresses of one pool in ONE etcd transaction (the allocator
   * batches dynamic allocations that arrive together). The outer transaction compares nothing;
   * each address is a nested transaction with exactly reserveAddress's compares, writes and
   * failure reads, so each one succeeds or fails on its own: an address somebody else took fails
   * only itself. One round trip, one commit, one revision for all of them. At most
   * MAX_RESERVE_BATCH addresses; the IPs must be distinct (etcd refuses a transaction that
   * writes a key twice).
   */
  async reserveAddresses(
    pool: StoredPool,
    wanted: readonly { ip: string; record: AddressRecord; nonce: string }[],
    deadline: Deadline,
  ): Promise<ReserveResult[]> {
    const res = await this.etcd.txn(
      {
        compare: [],
        success: wanted.map(({ ip, record, nonce }): IRequestOp => ({
          request_txn: reservation(this.keys, pool, ip, record, nonce),
        })),
        failure: [],
      },
      deadline,
      'reserve_addresses',
    );
    return wanted.map(({ ip, nonce }, i): ReserveResult => {
      const nested = res.responses[i]?.response_txn;
      return nested?.succeeded === true
        ? { kind: 'reserved' }
        : reserveOutcome(pool, ip, nonce, nested?.responses ?? []);
    });
  }

  /** Releases an address: deletes it if it has not changed since it was read. */
  async deleteAddress(
    poolId: string,
    address: StoredAddress,
    deadline: Deadline,
  ): Promise<'deleted' | 'changed'> {
    const key = buf(this.keys.address(poolId, address.ip));
    const res = await this.etcd.txn(
      ifUnchanged(key, address.modRevision, { delete: true }),
      deadline,
      'delete_address',
    );
    const outcome = guardedOutcome(res);
    if (outcome.applied) {
      return 'deleted';
    }
    // Gone already (a retried delete of ours, or another release): the outcome is the same. The
    // same IP allocated again meanwhile is a new key (another create revision): not ours to delete.
    const now = outcome.now;
    return !now || now.create_revision !== address.createRevision ? 'deleted' : 'changed';
  }

  // ------------------------------------------------------------- watching

  /**
   * A live view of one pool's allocated IPs, or with `within` (an IP text prefix such as
   * `10.0.3.`: one slice of a big pool) of those that start with it: listed once, then kept
   * fresh by a watch; re-listed after a compaction or a cancelled watch. Only a hint for choosing
   * candidates: the transactions decide.
   */
  openAddressFeed(poolId: string, handler: AddressFeedHandler, within = ''): AddressFeed {
    return new AddressFeed(this.keys, poolId, handler, (events) =>
      this.etcd.prefixWatch(
        `${this.keys.addressesOf(poolId)}${within}`,
        within ? `the addresses ${within}* of pool ${poolId}` : `the addresses of pool ${poolId}`,
        async (deadline) => {
          const { ips, revision } = await this.listAddressKeys(poolId, deadline, within);
          return { items: ips, revision };
        },
        events,
      ),
    );
  }

  /**
   * A live view of which pools exist (their ids and create revisions, not their records): listed
   * in pages of keys, then kept fresh by a watch on `pools/` (PoolFeed).
   */
  openPoolFeed(handler: PoolFeedHandler): PoolFeed {
    return new PoolFeed(this.keys, handler, (events) =>
      this.etcd.prefixWatch(
        this.keys.poolsPrefix,
        'the pools',
        async (deadline) => {
          const { items, revision } = await this.etcd.pagedRange(
            this.keys.poolsPrefix,
            deadline,
            { keysOnly: true },
            (kv): PoolIdentity | undefined => {
              const key = this.keys.parse(kv.key.toString());
              return key.kind === 'pool'
                ? { id: key.id, createRevision: BigInt(kv.create_revision) }
                : undefined;
            },
          );
          return { items, revision };
        },
        events,
      ),
    );
  }

  /**
   * A live view of every reserved subnet: listed once, then kept fresh by a watch on
   * `subnets/`, with the revision it is complete up to (SubnetFeed). Only a hint for choosing
   * a subnet: createPool's compare against that revision decides.
   */
  openSubnetFeed(handler: SubnetFeedHandler): SubnetFeed {
    return new SubnetFeed(this.keys, handler, (events) =>
      this.etcd.prefixWatch(
        this.keys.subnetsPrefix,
        'the subnets',
        async (deadline) => {
          const { subnets, revision } = await this.listSubnets(deadline);
          return { items: subnets, revision };
        },
        events,
      ),
    );
  }
}
