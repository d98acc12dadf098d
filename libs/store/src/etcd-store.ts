import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { isBrokenCircuitError, noop } from 'cockatiel';
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  ClientClosedError,
  isRecoverableError,
  type IOptions,
  type IKeyValue,
  type IRequestOp,
  type ICompare,
  type ITxnResponse,
  type IResponseOp,
  type KVClient,
} from 'etcd3';
import { IPAM_CONFIG, type IpamConfig } from '#app/config';
import { Prefix } from '#app/net';
import { StoreUnavailable } from './errors.js';
import { KeyLayout, prefixEnd } from './keys.js';
import {
  decodeRecord,
  type AddressRecord,
  type MemberRecord,
  type NodeMember,
  type PoolRecord,
  type StoredAddress,
  type StoredMember,
  type StoredPool,
  type StoredSubnet,
  type SubnetRecord,
} from './records.js';
import { AddressFeed, type AddressFeedHandler } from './address-feed.js';
import { SubnetFeed, type SubnetFeedHandler } from './subnet-feed.js';

export interface StoreStatus {
  /** true once etcd answered and while it keeps answering */
  ready: boolean;
  /** why not ready: "etcd is unreachable at http://…: <reason>" (never a credential) */
  detail: string;
}

type CallOptions = NonNullable<Parameters<KVClient['txn']>[1]>;

/** Epoch milliseconds after which a request stops waiting for etcd and fails with 503. */
export type Deadline = number;

/** How long one gRPC call may take before it counts as a failure and is retried elsewhere. */
const CALL_TIMEOUT_MS = 5_000;
const PROBE_UP_MS = 5_000;
const PROBE_DOWN_MS = 1_000;
/**
 * Keys per page when listing a pool's addresses: ~0.5 MiB per reply, far under gRPC's 4 MiB,
 * and small enough that a page's decoded objects die young (a lower peak RSS at start-up).
 */
const LIST_PAGE = 5_000;
/** Most addresses reserved in one transaction (etcd's --max-txn-ops is 128 per list). */
export const MAX_RESERVE_BATCH = 64;
/** Addresses per cleanup delete transaction (etcd allows 128 operations per transaction). */
export const MAX_DELETE_BATCH = 100;
const NONCE_PREFIX = randomBytes(8).toString('hex');
let nonceCounter = 0;

const buf = (s: string): Buffer => Buffer.from(s);
const json = (v: object): Buffer => Buffer.from(JSON.stringify(v));

/** Outcome of T1 (create pool). */
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
 * EtcdStore: the only code that talks to etcd. Each method that changes state is ONE etcd
 * transaction whose compares carry the correctness (see libs/store/README.md); callers own the
 * policy and the retry loops. Every call waits for etcd until the caller's deadline, then throws
 * StoreUnavailable.
 */
@Injectable()
export class EtcdStore implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('EtcdStore');
  readonly keys: KeyLayout;
  private client?: Etcd3;
  private up = false;
  private lastProblem = 'etcd has not been contacted yet';
  /** lastProblem says why etcd failed (not only that it did) */
  private lastProblemSpecific = false;
  private probeTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly feeds = new Set<AddressFeed | SubnetFeed>();

  constructor(@Inject(IPAM_CONFIG) private readonly config: IpamConfig) {
    this.keys = new KeyLayout(config.etcd.prefix);
  }

  onModuleInit(): void {
    this.client = new Etcd3(this.clientOptions());
    // Not awaited: the plugin must answer Docker's handshake while etcd is still down.
    void this.probe();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    for (const feed of this.feeds) {
      await feed.close();
    }
    this.client?.close();
  }

  status(): StoreStatus {
    return this.up ? { ready: true, detail: 'ok' } : { ready: false, detail: this.lastProblem };
  }

  /** A fresh nonce for one logical write; reused across retries of that write. */
  static nonce(): string {
    // 64 random bits per process and a counter: as unique as fresh random bytes per write, and
    // no call into the CSPRNG on every request.
    return `${NONCE_PREFIX}${(nonceCounter++).toString(36)}`;
  }

  deadline(): Deadline {
    return Date.now() + this.config.etcd.waitTimeoutSeconds * 1000;
  }

  // ---------------------------------------------------------------- reads

  async getPool(id: string, deadline: Deadline): Promise<StoredPool | undefined> {
    const res = await this.kvRange(this.keys.pool(id), undefined, deadline);
    const kv = res[0];
    return kv ? this.toPool(id, kv) : undefined;
  }

  /** The pool and this node's membership, read in one snapshot. */
  async getPoolAndMember(
    id: string,
    node: string,
    deadline: Deadline,
  ): Promise<{ pool?: StoredPool; member?: StoredMember; otherMembers: number }> {
    const membersKey = buf(this.keys.membersOf(id));
    const res = await this.txn(
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
    );
    const poolKv = rangeKvs(res.responses[0])[0];
    const memberKv = rangeKvs(res.responses[1])[0];
    const total = Number(res.responses[2]?.response_range?.count ?? 0);
    return {
      pool: poolKv ? this.toPool(id, poolKv) : undefined,
      member: memberKv ? toMember(memberKv) : undefined,
      otherMembers: total - (memberKv ? 1 : 0),
    };
  }

  /** All reserved subnets and the revision they were read at (T1's compare point). */
  async listSubnets(deadline: Deadline): Promise<{ subnets: StoredSubnet[]; revision: string }> {
    const key = buf(this.keys.subnetsPrefix);
    const res = await this.txn(
      {
        compare: [],
        success: [{ request_range: { key, range_end: prefixEnd(key) } }],
        failure: [],
      },
      deadline,
    );
    const subnets: StoredSubnet[] = [];
    for (const kv of rangeKvs(res.responses[0])) {
      const record = decodeRecord<SubnetRecord>(kv.value);
      const network = KeyLayout.tail(kv.key.toString(), this.keys.subnetsPrefix);
      if (record && network !== undefined) {
        subnets.push({ network, record });
      }
    }
    return { subnets, revision: res.header.revision };
  }

  async getAddress(
    poolId: string,
    ip: string,
    deadline: Deadline,
  ): Promise<StoredAddress | undefined> {
    const kv = (await this.kvRange(this.keys.address(poolId, ip), undefined, deadline))[0];
    return kv ? toAddress(ip, kv) : undefined;
  }

  /**
   * The IPs allocated in a pool (keys only) and the revision of that read. Read in pages of
   * LIST_PAGE keys, all at the first page's revision (one consistent snapshot): a single reply
   * for a pool of ~70,000 addresses would exceed gRPC's 4 MiB message limit (RESOURCE_EXHAUSTED,
   * and the pool could never be allocated from). If that revision is compacted between pages,
   * the list starts again at the newest one.
   */
  async listAddressKeys(
    poolId: string,
    deadline: Deadline,
  ): Promise<{ ips: string[]; revision: string }> {
    const prefix = this.keys.addressesOf(poolId);
    const { items, revision } = await this.pagedRange(prefix, deadline, true, LIST_PAGE, (kv) =>
      KeyLayout.tail(kv.key.toString(), prefix),
    );
    return { ips: items, revision };
  }

  /**
   * Every key under `prefix`, mapped by `map` (undefined drops a key), read in pages of
   * `pageSize` all pinned to the first page's revision: one consistent snapshot that stays under
   * gRPC's reply limit however large the range. If that revision is compacted between pages,
   * the read starts again at the newest one.
   */
  private async pagedRange<T>(
    prefix: string,
    deadline: Deadline,
    keysOnly: boolean,
    pageSize: number,
    map: (kv: IKeyValue) => T | undefined,
  ): Promise<{ items: T[]; revision: string }> {
    const end = prefixEnd(buf(prefix));
    for (let attempt = 1; ; attempt++) {
      const items: T[] = [];
      let from = buf(prefix);
      let revision: string | undefined;
      try {
        for (;;) {
          const page = from;
          const pinned = revision;
          const res = await this.withEtcd(
            (options) =>
              this.etcd().kv.range(
                {
                  key: page,
                  range_end: end,
                  keys_only: keysOnly,
                  limit: pageSize,
                  revision: pinned,
                },
                options,
              ),
            deadline,
          );
          revision ??= res.header.revision;
          for (const kv of res.kvs) {
            const item = map(kv);
            if (item !== undefined) {
              items.push(item);
            }
          }
          const last = res.kvs[res.kvs.length - 1];
          if (!res.more || !last) {
            return { items, revision };
          }
          from = Buffer.concat([last.key, Buffer.from([0])]);
        }
      } catch (err) {
        if (attempt >= 3 || !(err instanceof Error) || !/compacted/i.test(err.message)) {
          throw err;
        }
      }
    }
  }

  // ---------------------------------------------------------- transactions

  /**
   * T1: create a pool with its subnet reservation, gateway address and this node's membership.
   * Compares: the pool key does not exist, and no subnet key that could hold an overlapping
   * subnet (KeyLayout.subnetOverlapFence) was written after the revision the caller chose the
   * subnet at. Either all four keys are written or none.
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
    const gateway: AddressRecord = {
      address: p.record.gateway,
      node: p.node,
      type: 'gateway',
      req: nonce,
    };
    const res = await this.txn(
      {
        compare: [
          { key: poolKey, target: 'Create', result: 'Equal', create_revision: 0 },
          { key: fenceKey, range_end: prefixEnd(fenceKey), ...unchangedSince },
          ...fence.keys.map((key) => ({ key: buf(key), ...unchangedSince })),
        ],
        success: [
          { request_put: { key: poolKey, value: json(record) } },
          {
            request_put: {
              key: buf(this.keys.subnet(p.network)),
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
    );
    if (res.succeeded) {
      return {
        kind: 'created',
        pool: { id: p.id, record, createRevision: res.header.revision },
      };
    }
    const kv = rangeKvs(res.responses[0])[0];
    if (kv) {
      const pool = this.toPool(p.id, kv);
      // Our own earlier attempt committed and its reply was lost: that is success.
      return pool.record.req === nonce ? { kind: 'created', pool } : { kind: 'exists', pool };
    }
    return { kind: 'subnets-changed' };
  }

  /**
   * T2: add one reference to this node's membership of an existing pool. Compares the pool's
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
    const res = await this.txn(
      {
        compare: [
          { key: poolKey, target: 'Create', result: 'Equal', create_revision: pool.createRevision },
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
   * T3+T4 in one transaction: drop one reference of this node's membership. When it was the
   * last reference and no other node is a member, the pool, its subnet, all its addresses and
   * memberships go in the same commit; otherwise a nested transaction removes only this node's
   * membership. No state between "last member gone" and "pool deleted" is ever visible.
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
    const poolCompare: ICompare = {
      key: poolKey,
      target: 'Create',
      result: 'Equal',
      create_revision: pool.createRevision,
    };
    const memberCompare: ICompare = {
      key: memberKey,
      target: 'Mod',
      result: 'Equal',
      mod_revision: member.modRevision,
    };
    if (member.record.refs > 1) {
      const refs = member.record.refs - 1;
      const res = await this.txn(
        {
          compare: [poolCompare, memberCompare],
          success: [
            { request_put: { key: memberKey, value: memberValue(refs, nonce, member.record) } },
          ],
          failure: [{ request_range: { key: memberKey } }, { request_range: { key: poolKey } }],
        },
        deadline,
      );
      const now = rangeKvs(res.responses[0])[0];
      if (res.succeeded || memberWrittenBy(now, nonce)) {
        return { kind: 'decremented', refs };
      }
      return leaveOutcome(pool, member, now, rangeKvs(res.responses[1])[0]);
    }
    const membersKey = buf(this.keys.membersOf(pool.id));
    const addressesKey = buf(this.keys.addressesOf(pool.id));
    // "No other member": the ranges before and after our own key are both empty.
    const othersEmpty: ICompare[] = [
      { key: membersKey, range_end: memberKey, target: 'Version', result: 'Equal', version: 0 },
      {
        key: Buffer.concat([memberKey, Buffer.from([0])]),
        range_end: prefixEnd(membersKey),
        target: 'Version',
        result: 'Equal',
        version: 0,
      },
    ];
    const res = await this.txn(
      {
        compare: [poolCompare, memberCompare, ...othersEmpty],
        success: [
          { request_delete_range: { key: poolKey } },
          { request_delete_range: { key: buf(this.keys.subnet(network)) } },
          { request_delete_range: { key: addressesKey, range_end: prefixEnd(addressesKey) } },
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
   * T4 alone: delete a pool that no node is a member of (cleanup, and interrupted releases).
   * Compares the pool's create revision and that its membership range is empty.
   */
  async deletePoolIfUnused(
    pool: StoredPool,
    network: string,
    deadline: Deadline,
  ): Promise<boolean> {
    const poolKey = buf(this.keys.pool(pool.id));
    const membersKey = buf(this.keys.membersOf(pool.id));
    const addressesKey = buf(this.keys.addressesOf(pool.id));
    const res = await this.txn(
      {
        compare: [
          { key: poolKey, target: 'Create', result: 'Equal', create_revision: pool.createRevision },
          {
            key: membersKey,
            range_end: prefixEnd(membersKey),
            target: 'Version',
            result: 'Equal',
            version: 0,
          },
        ],
        success: [
          { request_delete_range: { key: poolKey } },
          { request_delete_range: { key: buf(this.keys.subnet(network)) } },
          { request_delete_range: { key: addressesKey, range_end: prefixEnd(addressesKey) } },
        ],
        failure: [],
      },
      deadline,
    );
    return res.succeeded;
  }

  /**
   * T5/T6: reserve one address. Compares the pool's create revision (the pool still exists and
   * is the same pool) and that the address key does not exist. On failure the existing record
   * comes back in the same reply; if it carries our nonce, our earlier attempt committed.
   */
  async reserveAddress(
    pool: StoredPool,
    ip: string,
    record: AddressRecord,
    nonce: string,
    deadline: Deadline,
  ): Promise<ReserveResult> {
    const poolKey = buf(this.keys.pool(pool.id));
    const key = buf(this.keys.address(pool.id, ip));
    const res = await this.txn(
      {
        compare: [
          { key: poolKey, target: 'Create', result: 'Equal', create_revision: pool.createRevision },
          { key, target: 'Create', result: 'Equal', create_revision: 0 },
        ],
        success: [{ request_put: { key, value: json({ ...record, req: nonce }) } }],
        failure: [{ request_range: { key: poolKey } }, { request_range: { key } }],
      },
      deadline,
    );
    return res.succeeded ? { kind: 'reserved' } : reserveOutcome(pool, ip, nonce, res.responses);
  }

  /**
   * T5 for several addresses of one pool in ONE etcd transaction (the allocator batches dynamic
   * allocations that arrive together). The outer transaction compares nothing; each address is a
   * nested transaction with exactly reserveAddress's compares, writes and failure reads, so each
   * one succeeds or fails on its own: an address somebody else took fails only itself. One
   * round trip, one commit, one revision for all of them. At most MAX_RESERVE_BATCH addresses;
   * the IPs must be distinct (etcd refuses a transaction that writes a key twice).
   */
  async reserveAddresses(
    pool: StoredPool,
    wanted: readonly { ip: string; record: AddressRecord; nonce: string }[],
    deadline: Deadline,
  ): Promise<ReserveResult[]> {
    const poolKey = buf(this.keys.pool(pool.id));
    const poolCompare: ICompare = {
      key: poolKey,
      target: 'Create',
      result: 'Equal',
      create_revision: pool.createRevision,
    };
    const res = await this.txn(
      {
        compare: [],
        success: wanted.map(({ ip, record, nonce }): IRequestOp => {
          const key = buf(this.keys.address(pool.id, ip));
          return {
            request_txn: {
              compare: [
                poolCompare,
                { key, target: 'Create', result: 'Equal', create_revision: 0 },
              ],
              success: [{ request_put: { key, value: json({ ...record, req: nonce }) } }],
              failure: [{ request_range: { key: poolKey } }, { request_range: { key } }],
            },
          };
        }),
        failure: [],
      },
      deadline,
    );
    return wanted.map(({ ip, nonce }, i): ReserveResult => {
      const nested = res.responses[i]?.response_txn;
      return nested?.succeeded === true
        ? { kind: 'reserved' }
        : reserveOutcome(pool, ip, nonce, nested?.responses ?? []);
    });
  }

  /** T7: delete an address if it has not changed since it was read. */
  async deleteAddress(
    poolId: string,
    address: StoredAddress,
    deadline: Deadline,
  ): Promise<'deleted' | 'changed'> {
    const key = buf(this.keys.address(poolId, address.ip));
    const res = await this.txn(
      {
        compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: address.modRevision }],
        success: [{ request_delete_range: { key } }],
        failure: [{ request_range: { key } }],
      },
      deadline,
    );
    if (res.succeeded) {
      return 'deleted';
    }
    // Gone already (a retried delete of ours, or another release): the outcome is the same. The
    // same IP allocated again meanwhile is a new key (another create revision): not ours to delete.
    const now = rangeKvs(res.responses[0])[0];
    return !now || now.create_revision !== address.createRevision ? 'deleted' : 'changed';
  }

  // ------------------------------------------------------------- watching

  /**
   * A live view of one pool's allocated IPs: listed once, then kept fresh by a watch; re-listed
   * after a compaction or a cancelled watch. Only a hint for choosing candidates: the
   * transactions decide.
   */
  openAddressFeed(poolId: string, handler: AddressFeedHandler): AddressFeed {
    const feed = new AddressFeed(
      this.keys.addressesOf(poolId),
      handler,
      {
        list: async () => this.listAddressKeys(poolId, this.deadline()),
        watch: (prefix, fromRevision) =>
          this.etcd().watch().prefix(prefix).startRevision(fromRevision).watcher(),
      },
      () => this.feeds.delete(feed),
    );
    this.feeds.add(feed);
    return feed;
  }

  /**
   * A live view of every reserved subnet: listed once, then kept fresh by a watch on
   * `subnets/`, with the revision it is complete up to (SubnetFeed). Only a hint for choosing
   * a subnet: createPool's compare against that revision decides.
   */
  openSubnetFeed(handler: SubnetFeedHandler): SubnetFeed {
    const feed = new SubnetFeed(
      handler,
      {
        list: async () => this.listSubnets(this.deadline()),
        watch: (fromRevision) =>
          this.etcd().watch().prefix(this.keys.subnetsPrefix).startRevision(fromRevision).watcher(),
        decode: (kv) => this.subnetOf(kv),
        network: (kv) => KeyLayout.tail(kv.key.toString(), this.keys.subnetsPrefix),
      },
      () => this.feeds.delete(feed),
    );
    this.feeds.add(feed);
    return feed;
  }

  private subnetOf(kv: IKeyValue): StoredSubnet | undefined {
    const record = decodeRecord<SubnetRecord>(kv.value);
    const network = KeyLayout.tail(kv.key.toString(), this.keys.subnetsPrefix);
    return record && network !== undefined ? { network, record } : undefined;
  }

  // ------------------------------------------------------------ internals

  private etcd(): Etcd3 {
    if (!this.client || this.closed) {
      throw new StoreUnavailable('the etcd client is closed (the plugin is shutting down)');
    }
    return this.client;
  }

  private clientOptions(): IOptions {
    const { etcd } = this.config;
    const options: IOptions = {
      hosts: etcd.endpoints,
      dialTimeout: CALL_TIMEOUT_MS,
      // Our own loop retries until the request's deadline and recognises retried commits by
      // their nonce; etcd3's global retry would resend transactions behind our back.
      faultHandling: { global: noop },
      defaultCallOptions: (ctx) =>
        ctx.isStream ? {} : { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) },
    };
    if (etcd.tls?.caFile || etcd.tls?.certFile) {
      options.credentials = {
        // Without a CA file: grpc's default roots. etcd3 types the field as required, but hands it
        // to grpc's createSsl, where null means "default roots" and an empty buffer trusts nothing.
        rootCertificate: etcd.tls.caFile
          ? readFileSync(etcd.tls.caFile)
          : // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- see above
            (null as unknown as Buffer),
        privateKey: etcd.tls.keyFile ? readFileSync(etcd.tls.keyFile) : undefined,
        certChain: etcd.tls.certFile ? readFileSync(etcd.tls.certFile) : undefined,
      };
    }
    if (etcd.auth) {
      options.auth = { username: etcd.auth.username, password: etcd.auth.password };
    }
    return options;
  }

  private async probe(): Promise<void> {
    if (this.closed) {
      return;
    }
    try {
      await this.etcd().kv.range({ key: buf(`${this.keys.root}/`) });
      this.markUp();
    } catch (err) {
      this.markDown(err);
    }
    if (!this.closed) {
      this.probeTimer = setTimeout(() => void this.probe(), this.up ? PROBE_UP_MS : PROBE_DOWN_MS);
      this.probeTimer.unref();
    }
  }

  private markUp(): void {
    if (!this.up) {
      this.log.log(`etcd is reachable at ${this.config.etcd.endpoints.join(',')}`);
    }
    this.up = true;
  }

  private markDown(err: unknown): void {
    // Some errors say nothing about why: every host's circuit breaker open, or grpc-js's "Last
    // error: null" of a new channel on a connection that had failed already. Keep the reason.
    const vague =
      isBrokenCircuitError(err) || (err instanceof Error && /Last error: null/.test(err.message));
    const keep = vague && !this.up && this.lastProblemSpecific;
    const problem = keep ? this.lastProblem : this.describe(err);
    this.lastProblemSpecific = keep || !vague;
    if (this.up || problem !== this.lastProblem) {
      this.log.warn(problem);
    }
    this.up = false;
    this.lastProblem = problem;
  }

  /** One sentence for logs, /readyz and 503 bodies; never a credential. */
  private describe(err: unknown): string {
    const where = this.config.etcd.endpoints.join(',');
    if (err instanceof EtcdAuthenticationFailedError || err instanceof GRPCUnauthenticatedError) {
      return `etcd at ${where} rejected the credentials of user ${this.config.etcd.auth?.username ?? '(none)'}`;
    }
    if (err instanceof EtcdPermissionDeniedError) {
      return `etcd at ${where} denied access to ${this.keys.root} for user ${this.config.etcd.auth?.username ?? '(none)'}`;
    }
    if (err instanceof GRPCResourceExhastedError) {
      return `etcd at ${where} refused the write: ${scrub(err.message, this.config)} (is its space quota full? compact and defragment it)`;
    }
    const message = err instanceof Error ? err.message : String(err);
    return `etcd is unreachable at ${where}: ${scrub(message, this.config)}`;
  }

  /** Runs one raw transaction, waiting for etcd until the deadline. */
  private async txn(
    request: { compare: ICompare[]; success: IRequestOp[]; failure: IRequestOp[] },
    deadline: Deadline,
  ): Promise<ITxnResponse> {
    return this.withEtcd((options) => this.etcd().kv.txn(request, options), deadline);
  }

  private async kvRange(
    key: string,
    rangeEnd: Buffer | undefined,
    deadline: Deadline,
  ): Promise<IKeyValue[]> {
    const res = await this.withEtcd(
      (options) => this.etcd().kv.range({ key: buf(key), range_end: rangeEnd }, options),
      deadline,
    );
    return res.kvs;
  }

  private async withEtcd<T>(
    call: (options: CallOptions) => Promise<T>,
    deadline: Deadline,
  ): Promise<T> {
    let pause = 100;
    for (;;) {
      try {
        // One call may take CALL_TIMEOUT_MS, but never past the request's own deadline.
        const callDeadline = Math.min(
          Date.now() + CALL_TIMEOUT_MS,
          Math.max(deadline, Date.now() + 250),
        );
        const result = await call({ deadline: new Date(callDeadline) });
        this.markUp();
        return result;
      } catch (err) {
        if (err instanceof StoreUnavailable) {
          throw err;
        }
        if (err instanceof ClientClosedError) {
          throw new StoreUnavailable('the etcd client is closed (the plugin is shutting down)');
        }
        if (!isTransient(err)) {
          if (isStoreRefusal(err)) {
            this.markDown(err);
            throw new StoreUnavailable(this.describe(err));
          }
          throw err;
        }
        this.markDown(err);
        const remaining = deadline - Date.now();
        if (this.closed || remaining <= 0) {
          const waited = Math.round(this.config.etcd.waitTimeoutSeconds);
          throw new StoreUnavailable(`${this.lastProblem} (gave up after waiting ${waited} s)`);
        }
        await sleep(Math.min(pause, remaining));
        pause = Math.min(pause * 2, 1_000);
      }
    }
  }

  private toPool(id: string, kv: IKeyValue): StoredPool {
    const record = decodeRecord<PoolRecord>(kv.value) ?? { subnet: '', gateway: '' };
    return { id, record, createRevision: kv.create_revision };
  }

  // ------------------------------------------------------------------ cleanup
  // Reads and guarded writes of apps/cleanup (spec 1.5), used by nothing else. Every delete or
  // update is ONE transaction that compares the mod revision the caller read, so a key written
  // since (a new allocation, a join, a release) is never touched. Pool deletes reuse T4
  // (deletePoolIfUnused).

  /** The store's current revision: the cleanup pass's R (spec 1.5). */
  async currentRevision(deadline: Deadline): Promise<string> {
    // Any read answers with the store's revision; one key (usually absent) keeps it cheap.
    const res = await this.txn(
      {
        compare: [],
        success: [{ request_range: { key: buf(`${this.keys.root}/`), keys_only: true } }],
        failure: [],
      },
      deadline,
    );
    return res.header.revision;
  }

  /** Every pool, in key order, and the revision of that read. */
  async listPools(deadline: Deadline): Promise<{ pools: StoredPool[]; revision: string }> {
    const prefix = this.keys.poolsPrefix;
    const kvs = await this.rangeWithRevision(prefix, deadline);
    const pools: StoredPool[] = [];
    for (const kv of kvs.kvs) {
      const id = KeyLayout.tail(kv.key.toString(), prefix);
      if (id !== undefined && id !== '' && !id.includes('/')) {
        pools.push(this.toPool(id, kv));
      }
    }
    return { pools, revision: kvs.revision };
  }

  /** Every address of one pool, with its record and revisions, in key order. */
  async listAddresses(
    poolId: string,
    deadline: Deadline,
  ): Promise<{ addresses: StoredAddress[]; revision: string }> {
    const prefix = this.keys.addressesOf(poolId);
    const kvs = await this.rangeWithRevision(prefix, deadline);
    const addresses: StoredAddress[] = [];
    for (const kv of kvs.kvs) {
      const ip = KeyLayout.tail(kv.key.toString(), prefix);
      if (ip !== undefined && ip !== '') {
        addresses.push(toAddress(ip, kv));
      }
    }
    return { addresses, revision: kvs.revision };
  }

  /** Every membership of one pool (one per node), in key order. */
  async listMembers(
    poolId: string,
    deadline: Deadline,
  ): Promise<{ members: NodeMember[]; revision: string }> {
    const prefix = this.keys.membersOf(poolId);
    const kvs = await this.rangeWithRevision(prefix, deadline);
    const members: NodeMember[] = [];
    for (const kv of kvs.kvs) {
      const node = KeyLayout.tail(kv.key.toString(), prefix);
      if (node !== undefined && node !== '') {
        members.push({ node, ...toMember(kv) });
      }
    }
    return { members, revision: kvs.revision };
  }

  /**
   * Every key under the prefix with its value, keys relative to the prefix (`pools/blue`), all
   * read at ONE revision: the consistency check's snapshot (`--check`). Read in pages pinned to
   * the first page's revision, so a large store stays under gRPC's 4 MiB reply limit (a page of
   * 5,000 keys with values is ~1 MiB); if that revision is compacted between pages, the read
   * starts again at the newest one.
   */
  async snapshot(
    deadline: Deadline,
    pageSize = 5_000,
  ): Promise<{ entries: { key: string; value: string }[]; revision: string }> {
    const root = `${this.keys.root}/`;
    const { items, revision } = await this.pagedRange(root, deadline, false, pageSize, (kv) => {
      const key = KeyLayout.tail(kv.key.toString(), root);
      return key === undefined ? undefined : { key, value: kv.value.toString() };
    });
    return { entries: items, revision };
  }

  /**
   * Deletes addresses if they have not changed since they were read (the cleanup's frees), up to
   * MAX_DELETE_BATCH in ONE transaction: the outer one compares nothing, each address is a nested
   * transaction comparing its own mod revision, so each one is deleted or kept on its own. Unlike
   * a release (T7) an address released and taken again meanwhile reports 'changed': the cleanup
   * did not free it. One gone already reports 'deleted': a retried delete of ours leaves no other
   * trace. The results are in the order of `addresses`; the IPs must be distinct.
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
    const res = await this.txn(
      {
        compare: [],
        success: addresses.map((address): IRequestOp => {
          const key = buf(this.keys.address(poolId, address.ip));
          return {
            request_txn: {
              compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: address.modRevision }],
              success: [{ request_delete_range: { key } }],
              failure: [{ request_range: { key, keys_only: true } }],
            },
          };
        }),
        failure: [],
      },
      deadline,
    );
    return addresses.map((_, i) => {
      const nested = res.responses[i]?.response_txn;
      if (nested === undefined) {
        throw new Error(`etcd answered a batched delete without result ${i}`);
      }
      return nested.succeeded || rangeKvs(nested.responses[0]).length === 0 ? 'deleted' : 'changed';
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
    const res = await this.txn(
      {
        compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: member.modRevision }],
        success: [{ request_delete_range: { key } }],
        failure: [{ request_range: { key } }],
      },
      deadline,
    );
    if (res.succeeded) {
      return 'deleted';
    }
    return rangeKvs(res.responses[0]).length === 0 ? 'deleted' : 'changed';
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
    const res = await this.txn(
      {
        compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: member.modRevision }],
        success: [{ request_put: { key, value: memberValue(refs, nonce, member.record) } }],
        failure: [{ request_range: { key } }],
      },
      deadline,
    );
    return res.succeeded || memberWrittenBy(rangeKvs(res.responses[0])[0], nonce)
      ? 'set'
      : 'changed';
  }

  /** All keys under a prefix (values included) and the revision of that read. */
  private async rangeWithRevision(
    prefix: string,
    deadline: Deadline,
  ): Promise<{ kvs: IKeyValue[]; revision: string }> {
    const key = buf(prefix);
    const res = await this.txn(
      {
        compare: [],
        success: [{ request_range: { key, range_end: prefixEnd(key) } }],
        failure: [],
      },
      deadline,
    );
    return { kvs: rangeKvs(res.responses[0]), revision: res.header.revision };
  }
}

/**
 * What a failed reservation means, from its failure reads (the pool key, then the address key):
 * our own earlier commit (the address carries our nonce), taken by somebody else, or the pool
 * is gone (deleted, or re-created under the same name).
 */
function reserveOutcome(
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

function rangeKvs(op: IResponseOp | undefined): IKeyValue[] {
  return op?.response_range?.kvs ?? [];
}

function toMember(kv: IKeyValue): StoredMember {
  const record = decodeRecord<MemberRecord>(kv.value);
  const refs = typeof record?.refs === 'number' && record.refs > 0 ? record.refs : 1;
  return {
    record: { ...record, refs },
    modRevision: kv.mod_revision,
    createRevision: kv.create_revision,
  };
}

/** How many nonces of earlier writes a membership keeps (MemberRecord.reqs). */
const MEMBER_NONCES = 8;

/** A membership value written by `nonce`, keeping the nonces of the latest earlier writes. */
function memberValue(refs: number, nonce: string, previous?: MemberRecord): Buffer {
  const earlier = Array.isArray(previous?.reqs)
    ? previous.reqs
    : previous?.req
      ? [previous.req]
      : [];
  return json({ refs, req: nonce, reqs: [nonce, ...earlier].slice(0, MEMBER_NONCES) });
}

/** True when the membership as it is now was written, or recently written, by `nonce`. */
function memberWrittenBy(kv: IKeyValue | undefined, nonce: string): boolean {
  const record = kv ? decodeRecord<MemberRecord>(kv.value) : undefined;
  return record?.req === nonce || (Array.isArray(record?.reqs) && record.reqs.includes(nonce));
}

/**
 * After a leave whose compares failed: when the membership that was read is gone (deleted, or
 * deleted and taken again by a later join), the references it counted are released already, by
 * our own earlier commit whose reply was lost or by another release of this node; releasing
 * again would take a reference that a later join added. Otherwise the caller reads again.
 */
function leaveOutcome(
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

function toAddress(ip: string, kv: IKeyValue): StoredAddress {
  const record = decodeRecord<AddressRecord>(kv.value) ?? { address: ip, node: '' };
  return { ip, record, createRevision: kv.create_revision, modRevision: kv.mod_revision };
}

function isTransient(err: unknown): boolean {
  return (
    (err instanceof Error && isRecoverableError(err)) ||
    isBrokenCircuitError(err) ||
    (err instanceof Error &&
      /no leader|leader changed|request timed out|ECONNREFUSED/i.test(err.message))
  );
}

function isStoreRefusal(err: unknown): boolean {
  return (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof GRPCUnauthenticatedError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof GRPCResourceExhastedError
  );
}

/** Removes anything that could be a credential from an etcd error message. */
function scrub(message: string, config: IpamConfig): string {
  // grpc-js ends some messages with an empty "Resolution note:".
  let out = message
    .replace(/\s+/g, ' ')
    .replace(/ ?Resolution note: ?$/, '')
    .trim();
  const password = config.etcd.auth?.password;
  if (password) {
    out = out.split(password).join('***');
  }
  return out;
}
