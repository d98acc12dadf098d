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
import { StoreUnavailable } from './errors.js';
import { KeyLayout, prefixEnd } from './keys.js';
import {
  decodeRecord,
  type AddressRecord,
  type MemberRecord,
  type PoolRecord,
  type StoredAddress,
  type StoredMember,
  type StoredPool,
  type StoredSubnet,
  type SubnetRecord,
} from './records.js';
import { AddressFeed, type AddressFeedHandler } from './address-feed.js';

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
  private probeTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly feeds = new Set<AddressFeed>();

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
    return randomBytes(8).toString('hex');
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

  /** The IPs allocated in a pool (keys only) and the revision of that read. */
  async listAddressKeys(
    poolId: string,
    deadline: Deadline,
  ): Promise<{ ips: string[]; revision: string }> {
    const prefix = this.keys.addressesOf(poolId);
    const key = buf(prefix);
    const res = await this.txn(
      {
        compare: [],
        success: [{ request_range: { key, range_end: prefixEnd(key), keys_only: true } }],
        failure: [],
      },
      deadline,
    );
    const ips: string[] = [];
    for (const kv of rangeKvs(res.responses[0])) {
      const ip = KeyLayout.tail(kv.key.toString(), prefix);
      if (ip !== undefined) {
        ips.push(ip);
      }
    }
    return { ips, revision: res.header.revision };
  }

  // ---------------------------------------------------------- transactions

  /**
   * T1: create a pool with its subnet reservation, gateway address and this node's membership.
   * Compares: the pool key does not exist, and no key under subnets/ was written after the
   * revision the caller chose the subnet at. Either all four keys are written or none.
   */
  async createPool(
    p: { id: string; record: PoolRecord; network: string; gatewayIp: string; node: string },
    readRevision: string,
    nonce: string,
    deadline: Deadline,
  ): Promise<CreatePoolResult> {
    const poolKey = buf(this.keys.pool(p.id));
    const subnetsKey = buf(this.keys.subnetsPrefix);
    const record: PoolRecord = { ...p.record, req: nonce };
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
          {
            key: subnetsKey,
            range_end: prefixEnd(subnetsKey),
            target: 'Mod',
            result: 'Less',
            mod_revision: String(BigInt(readRevision) + 1n),
          },
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
              value: json({ refs: 1, req: nonce }),
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
        success: [{ request_put: { key: memberKey, value: json({ refs, req: nonce }) } }],
        failure: [{ request_range: { key: poolKey } }, { request_range: { key: memberKey } }],
      },
      deadline,
    );
    if (res.succeeded) {
      return { kind: 'joined', refs };
    }
    const memberNow = rangeKvs(res.responses[1])[0];
    if (memberNow && decodeRecord<MemberRecord>(memberNow.value)?.req === nonce) {
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
          success: [{ request_put: { key: memberKey, value: json({ refs, req: nonce }) } }],
          failure: [{ request_range: { key: memberKey } }],
        },
        deadline,
      );
      const now = rangeKvs(res.responses[0])[0];
      if (res.succeeded || (now && decodeRecord<MemberRecord>(now.value)?.req === nonce)) {
        return { kind: 'decremented', refs };
      }
      return { kind: 'retry' };
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
    // A retried commit of ours leaves no trace to recognise: the caller re-reads, finds no
    // membership (or no pool) and treats the release as done, which is the same outcome.
    return { kind: 'retry' };
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
    if (res.succeeded) {
      return { kind: 'reserved' };
    }
    const addrKv = rangeKvs(res.responses[1])[0];
    const poolKv = rangeKvs(res.responses[0])[0];
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
    // Gone already (a retried delete of ours, or another release): the outcome is the same.
    return rangeKvs(res.responses[0]).length === 0 ? 'deleted' : 'changed';
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
        rootCertificate: etcd.tls.caFile ? readFileSync(etcd.tls.caFile) : Buffer.alloc(0),
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
    const problem = this.describe(err);
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
}

function rangeKvs(op: IResponseOp | undefined): IKeyValue[] {
  return op?.response_range?.kvs ?? [];
}

function toMember(kv: IKeyValue): StoredMember {
  const record = decodeRecord<MemberRecord>(kv.value);
  const refs = typeof record?.refs === 'number' && record.refs > 0 ? record.refs : 1;
  return { record: { ...record, refs }, modRevision: kv.mod_revision };
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
  let out = message.replace(/\s+/g, ' ').trim();
  const password = config.etcd.auth?.password;
  if (password) {
    out = out.split(password).join('***');
  }
  return out;
}
