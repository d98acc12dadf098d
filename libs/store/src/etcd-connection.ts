import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { isBrokenCircuitError, noop } from 'cockatiel';
import {
  castGrpcError,
  Etcd3,
  EtcdLeaseInvalidError,
  type ILeaseKeepAliveResponse,
  type IOptions,
  type IKeyValue,
  type ITxnResponse,
  type KVClient,
} from 'etcd3';
import { ipamConfig, type IpamConfig } from '#app/config';
import { METRICS } from '#app/metrics';
import { RequestRefused, StoreUnavailable } from './errors.js';
import {
  blocksEveryRequest,
  classifyEtcdError,
  describeEtcdError,
  isRetried,
  refusesThisRequest,
  type EtcdPeer,
} from './etcd-errors.js';
import type { TxnRequest } from './guarded-write.js';
import { KeyLayout, prefixEnd } from './keys.js';
import { EtcdVersionGate } from './etcd-version.js';
import { buf } from './kv-records.js';
import { PrefixWatch, type PrefixListing, type PrefixWatchHandler } from './prefix-watch.js';

export interface StoreStatus {
  /** true once etcd answered and while it keeps answering */
  ready: boolean;
  /** why not ready: "etcd is unreachable at http://…: <reason>" (never a credential) */
  detail: string;
}

export type CallOptions = NonNullable<Parameters<KVClient['txn']>[1]>;

/** Epoch milliseconds after which a request stops waiting for etcd and fails with 503. */
export type Deadline = number;

/** How long one gRPC call may take before it counts as a failure and is retried elsewhere. */
const CALL_TIMEOUT_MS = 5_000;
const PROBE_UP_MS = 5_000;
const PROBE_DOWN_MS = 1_000;
/**
 * Keys per page of a paged range: ~0.5 MiB per reply of address keys, far under gRPC's 4 MiB,
 * and small enough that a page's decoded objects die young (a lower peak RSS at start-up).
 */
export const LIST_PAGE = 5_000;

/** How a prefix is read in pages (EtcdConnection.pagedRange, rangePages). */
export interface PageOptions {
  keysOnly: boolean;
  /** keys per page (default LIST_PAGE) */
  pageSize?: number;
  /** read at this revision (several ranges at one revision); default: the first page's */
  revision?: string;
}

const NONCE_PREFIX = randomBytes(8).toString('hex');
let nonceCounter = 0;

/** Every attempt of a transaction but the last was retried. */
function countRetries(op: string, attempts: number): void {
  for (let i = 1; i < attempts; i++) {
    METRICS.txn(op, 'retried');
  }
}

/** A fresh nonce for one logical write; reused across retries of that write. */
export function newNonce(): string {
  // 64 random bits per process and a counter: as unique as fresh random bytes per write, and
  // no call into the CSPRNG on every request.
  return `${NONCE_PREFIX}${(nonceCounter++).toString(36)}`;
}

/**
 * The one etcd client of the process and how it is called: every call waits for etcd until the
 * request's deadline (transient errors are retried, each gRPC call bounded), then throws
 * StoreUnavailable with a sentence that names the endpoints and never a credential. Before the
 * first call after every (re)connection it reads etcd's version and refuses an etcd older than
 * 3.3 (etcd-version.ts). A background probe keeps `status()` current. The stores
 * (AllocationStore, CleanupStore) build their transactions on it; nothing else imports etcd3.
 */
@Injectable()
export class EtcdConnection implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('EtcdConnection');
  readonly keys: KeyLayout;
  private client?: Etcd3;
  private up = false;
  private lastProblem = 'etcd has not been contacted yet';
  /** lastProblem says why etcd failed (not only that it did) */
  private lastProblemSpecific = false;
  private probeTimer?: NodeJS.Timeout;
  private closed = false;
  /** Open prefix watches, closed before the client (a watch left open retries forever). */
  private readonly watches = new Set<{ close(): Promise<void> }>();
  /** etcd's version, read before the first call after every (re)connection (etcd-version.ts) */
  private readonly version: EtcdVersionGate;

  constructor(@Inject(ipamConfig.KEY) private readonly config: IpamConfig) {
    this.keys = new KeyLayout(config.etcd.prefix);
    this.version = new EtcdVersionGate(async (deadline) => {
      const version = await this.serverVersion(deadline);
      this.markUp(); // etcd answered, whatever its version
      return version;
    }, config.etcd.endpoints.join(','));
  }

  onModuleInit(): void {
    this.client = new Etcd3(this.clientOptions());
    // Not awaited: the plugin must answer Docker's handshake while etcd is still down.
    void this.probe();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    for (const watch of this.watches) {
      await watch.close();
    }
    this.client?.close();
  }

  status(): StoreStatus {
    if (!this.up) {
      return { ready: false, detail: this.lastProblem };
    }
    const refused = this.version.problem;
    return refused === undefined
      ? { ready: true, detail: 'ok' }
      : { ready: false, detail: refused };
  }

  /**
   * The version of the etcd member one call reaches (Maintenance.Status), as the version gate
   * reads it before the first call after a (re)connection. Not through withEtcd: the gate runs
   * inside its retry loop.
   */
  async serverVersion(deadline: Date): Promise<string> {
    const res = await this.etcd().maintenance.status({ deadline });
    return res.version;
  }

  /** The deadline of a request that starts now (`ETCD_WAIT_TIMEOUT`). */
  deadline(): Deadline {
    return Date.now() + this.config.etcd.waitTimeoutSeconds * 1000;
  }

  /**
   * Runs one transaction, waiting for etcd until the deadline, and counts it under `op` (its
   * store method, for kontena_ipam_etcd_txn_total): committed or compare failed, each attempt
   * that was retried, or an error.
   */
  async txn(request: TxnRequest, deadline: Deadline, op: string): Promise<ITxnResponse> {
    let attempts = 0;
    try {
      const res = await this.withEtcd((options) => {
        attempts++;
        return this.kv().txn(request, options);
      }, deadline);
      countRetries(op, attempts);
      METRICS.txn(op, res.succeeded ? 'committed' : 'compare_failed');
      return res;
    } catch (err) {
      countRetries(op, attempts);
      METRICS.txn(op, 'error');
      throw err;
    }
  }

  /** One key, or undefined when it does not exist. */
  async get(key: string, deadline: Deadline): Promise<IKeyValue | undefined> {
    const res = await this.withEtcd(
      (options) => this.kv().range({ key: buf(key) }, options),
      deadline,
    );
    return res.kvs[0];
  }

  /**
   * Every key under `prefix`, mapped by `map` (undefined drops a key), read in pages of
   * `pageSize` all pinned to one revision (`revision`, else the first page's): one consistent
   * snapshot that stays under gRPC's 4 MiB reply limit however large the range (a pool of 30,000
   * addresses with their values is ~5 MiB). Every read of a prefix goes through here. If the
   * first page's revision is compacted between pages, the read starts again at the newest one.
   */
  async pagedRange<T>(
    prefix: string,
    deadline: Deadline,
    options: PageOptions,
    map: (kv: IKeyValue) => T | undefined,
  ): Promise<{ items: T[]; revision: string }> {
    for (let attempt = 1; ; attempt++) {
      const items: T[] = [];
      let revision = options.revision;
      try {
        for await (const page of this.rangePages(prefix, deadline, options)) {
          revision = page.revision;
          for (const kv of page.kvs) {
            const item = map(kv);
            if (item !== undefined) {
              items.push(item);
            }
          }
        }
        return { items, revision: revision ?? '0' };
      } catch (err) {
        const retry = options.revision === undefined && attempt < 3;
        if (!retry || !(err instanceof Error) || !/compacted/i.test(err.message)) {
          throw err;
        }
      }
    }
  }

  /**
   * The keys under `prefix` page by page (at least one page, maybe empty), each page pinned to
   * the same revision: `revision`, else the first page's. For a caller that prints a range as it
   * reads it (`kontena-ipam-ctl show POOL`) instead of holding all of it.
   */
  async *rangePages(
    prefix: string,
    deadline: Deadline,
    options: PageOptions,
  ): AsyncGenerator<{ kvs: IKeyValue[]; revision: string }> {
    const end = prefixEnd(buf(prefix));
    const limit = options.pageSize ?? LIST_PAGE;
    let from = buf(prefix);
    let revision = options.revision;
    for (;;) {
      const page = from;
      const pinned = revision;
      const res = await this.withEtcd(
        (callOptions) =>
          this.kv().range(
            { key: page, range_end: end, keys_only: options.keysOnly, limit, revision: pinned },
            callOptions,
          ),
        deadline,
      );
      revision ??= res.header.revision;
      yield { kvs: res.kvs, revision };
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) {
        return;
      }
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  /**
   * A lease of about `ttlSeconds`: its id and the TTL etcd granted (etcd raises a TTL below its
   * minimum, 2 s with its default heartbeat and election timeout). Leases are for liveness only
   * (node-registration.ts), never for allocations.
   */
  async grantLease(
    ttlSeconds: number,
    deadline: Deadline,
  ): Promise<{ id: string; ttlSeconds: number }> {
    const res = await this.withEtcd(
      (options) => this.etcd().leaseClient.leaseGrant({ TTL: ttlSeconds }, options),
      deadline,
    );
    return { id: res.ID, ttlSeconds: Number(res.TTL) };
  }

  /**
   * Renews a lease once: the seconds it has left, 0 when it has expired (its keys are gone). One
   * short stream per renewal, so that a renewal is bounded and retried like any other call.
   */
  keepLeaseAlive(id: string, deadline: Deadline): Promise<number> {
    return this.withEtcd(async (options) => {
      const stream = await this.etcd().leaseClient.leaseKeepAlive(options);
      try {
        // The first of these settles the promise; what follows (the end of the stream, or an
        // error at its deadline) changes nothing.
        return await new Promise<number>((resolve, reject) => {
          stream
            .on('data', (res: ILeaseKeepAliveResponse) => resolve(Number(res.TTL)))
            .on('error', (err: Error) => reject(castGrpcError(err)))
            .on('end', () => reject(new Error('the lease keep-alive stream ended early')));
          stream.write({ ID: id });
        });
      } finally {
        stream.end();
      }
    }, deadline);
  }

  /** Ends a lease now, deleting its keys; a lease that has expired already is no error. */
  async revokeLease(id: string, deadline: Deadline): Promise<void> {
    try {
      await this.withEtcd(
        (options) => this.etcd().leaseClient.leaseRevoke({ ID: id }, options),
        deadline,
      );
    } catch (err) {
      if (!(err instanceof EtcdLeaseInvalidError)) {
        throw err;
      }
    }
  }

  /**
   * A list-then-watch of `prefix` (PrefixWatch) that feeds `handler`; closed before the client
   * on shutdown. `what` names it in log lines.
   */
  prefixWatch<L>(
    prefix: string,
    what: string,
    list: (deadline: Deadline) => Promise<PrefixListing<L>>,
    handler: PrefixWatchHandler<L>,
  ): PrefixWatch<L> {
    const watch: PrefixWatch<L> = new PrefixWatch(
      what,
      {
        list,
        watch: (fromRevision) =>
          this.etcd().watch().prefix(prefix).startRevision(fromRevision).watcher(),
        expired: () => this.gaveUp(),
      },
      handler,
      () => this.watches.delete(watch),
    );
    this.watches.add(watch);
    return watch;
  }

  /**
   * Runs `call` until it succeeds, retrying what a later attempt may cure (etcd unreachable or
   * busy: classifyEtcdError) with a backoff up to 1 s until the deadline; each attempt gets
   * CALL_TIMEOUT_MS, never past the deadline. Throws StoreUnavailable when the deadline passes,
   * and at once, with what happened, when etcd refuses the request in a way no retry cures or is
   * older than 3.3; any other error (a compacted revision) as it is.
   */
  async withEtcd<T>(call: (options: CallOptions) => Promise<T>, deadline: Deadline): Promise<T> {
    let pause = 100;
    for (;;) {
      try {
        // One call may take CALL_TIMEOUT_MS, but never past the request's own deadline.
        const callDeadline = Math.min(
          Date.now() + CALL_TIMEOUT_MS,
          Math.max(deadline, Date.now() + 250),
        );
        if (!this.version.open) {
          // Once per (re)connection: an etcd without range compares must not see a transaction.
          await this.version.admit(new Date(callDeadline));
        }
        const result = await call({ deadline: new Date(callDeadline) });
        this.markUp();
        return result;
      } catch (err) {
        if (err instanceof StoreUnavailable) {
          throw err;
        }
        const failure = classifyEtcdError(err);
        if (failure === 'closed') {
          throw new StoreUnavailable('the etcd client is closed (the plugin is shutting down)');
        }
        if (failure === 'other') {
          throw err;
        }
        if (!isRetried(failure)) {
          // etcd answered; only a refusal of every request makes the store not ready.
          if (blocksEveryRequest(failure)) {
            this.markDown(err);
          }
          throw refusesThisRequest(failure)
            ? new RequestRefused(this.describe(err))
            : new StoreUnavailable(this.describe(err));
        }
        this.markDown(err);
        const remaining = deadline - Date.now();
        if (this.closed || remaining <= 0) {
          throw this.gaveUp({ deadline });
        }
        await sleep(Math.min(pause, remaining));
        pause = Math.min(pause * 2, 1_000);
      }
    }
  }

  /**
   * What a request that waited until its deadline is told: the last problem with etcd (or, if
   * etcd answers but not in time, that), and how long it waited (ETCD_WAIT_TIMEOUT: a request's
   * etcd calls share its deadline); or, for a wait cut short, that the plugin is stopping.
   */
  private gaveUp(wait?: { deadline: Deadline }): StoreUnavailable {
    const problem = this.up
      ? `etcd at ${this.config.etcd.endpoints.join(',')} did not answer in time`
      : this.lastProblem;
    if (wait && this.closed && Date.now() < wait.deadline) {
      return new StoreUnavailable(`${problem} (stopped waiting: the plugin is shutting down)`);
    }
    const waited = Math.round(this.config.etcd.waitTimeoutSeconds);
    return new StoreUnavailable(`${problem} (gave up after waiting ${waited} s)`);
  }

  private kv(): KVClient {
    return this.etcd().kv;
  }

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
      await this.kv().range({ key: buf(`${this.keys.root}/`) });
      // Every round: grpc-js reconnects an idle channel without an error that a call would see,
      // so an etcd replaced meanwhile (upgraded in place, or an older one behind the same
      // address) is seen by the next round, and an upgrade ends a refusal within a second.
      await this.version.refresh(new Date(Date.now() + CALL_TIMEOUT_MS));
      this.markUp();
    } catch (err) {
      this.markDown(err);
    }
    if (!this.closed) {
      const ready = this.up && this.version.problem === undefined;
      this.probeTimer = setTimeout(() => void this.probe(), ready ? PROBE_UP_MS : PROBE_DOWN_MS);
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
    // Whoever answers next may be another etcd (an upgrade, a failover): read its version first.
    this.version.forget();
    this.up = false;
    this.lastProblem = problem;
  }

  private describe(err: unknown): string {
    const peer: EtcdPeer = {
      endpoints: this.config.etcd.endpoints,
      root: this.keys.root,
      username: this.config.etcd.auth?.username,
      password: this.config.etcd.auth?.password,
    };
    return describeEtcdError(err, peer);
  }
}
