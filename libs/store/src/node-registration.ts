import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';

import { ipamConfig, type IpamConfig } from '#app/config';

import { EtcdConnection, type Deadline } from './etcd-connection.js';
import { buf, json, toRegistration } from './kv-records.js';
import type { PrefixWatch } from './prefix-watch.js';
import type { RegistrationRecord, StoredRegistration } from './records.js';
import { describeRegistration, RegistrationTracker } from './registration-tracker.js';
import { StoreModule } from './store.module.js';

/** The lease TTL of a registration unless told otherwise: a dead plugin's lasts that long. */
export const DEFAULT_REGISTRATION_TTL_SECONDS = 10;
/** Between attempts while not registered (etcd down, or refusing). */
const RETRY_MS = 1_000;
/** What a stop may spend revoking the lease: etcd may be down, and dockerd waits 10 s. */
const REVOKE_BOUND_MS = 2_000;

export interface NodeRegistrationOptions {
  /** The plugin's version, stored in the registration. */
  version: string;
  /**
   * The lease's TTL in seconds (default 10). Only tests shorten it; etcd raises a TTL below its
   * minimum (2 s with its default heartbeat and election timeout).
   */
  ttlSeconds?: number;
  /** This host's name (default `os.hostname()`); tests pose as other hosts. */
  host?: string;
}

export const NODE_REGISTRATION_OPTIONS = Symbol('NODE_REGISTRATION_OPTIONS');

/** The node-id check of `/readyz`. */
export interface NodeIdStatus {
  /** false while another live plugin holds this NODE_ID */
  ok: boolean;
  detail: string;
}

/**
 * Registers this running plugin under its NODE_ID (`<prefix>/nodes/<NODE_ID>/<instance>`, README
 * "Keys" of libs/store) on a lease it keeps alive, and watches the other registrations of its
 * NODE_ID: one still kept alive a TTL after it appeared is a second live plugin with the same
 * NODE_ID, which shares this one's addresses; either one's cleanup would free the other's. That
 * is logged as an error naming both hosts, and the node-id check of /readyz fails while it lasts.
 *
 * Leases are liveness only, never used for allocations, and none of this is on the allocation
 * path: one loop, started without waiting (etcd may be down), registers when etcd answers, renews
 * the lease every third of its TTL and registers anew after a lost lease. The cleanup reads the
 * registrations to refuse a NODE_ID another live plugin holds (apps/cleanup).
 */
@Injectable()
export class NodeRegistration implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('NodeRegistration');
  /** This process's identity: a restarted plugin is another instance. */
  readonly instance = randomUUID();
  private readonly node: string;
  private readonly host: string;
  private readonly version: string;
  private readonly ttlSeconds: number;
  private readonly started = new Date().toISOString();
  private readonly others: RegistrationTracker;
  private lease?: { id: string; ttlSeconds: number; renewedAt: number };
  /** this instance's key exists, as far as this instance knows */
  private present = false;
  private watch?: PrefixWatch<StoredRegistration[]>;
  private duplicates: StoredRegistration[] = [];
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private closed = false;
  /** the last failure logged, so that a long outage logs once */
  private lastFailure?: string;

  constructor(
    private readonly etcd: EtcdConnection,
    @Inject(ipamConfig.KEY) config: IpamConfig,
    @Inject(NODE_REGISTRATION_OPTIONS) options: NodeRegistrationOptions,
  ) {
    this.node = config.nodeId;
    this.host = options.host ?? hostname();
    this.version = options.version;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_REGISTRATION_TTL_SECONDS;
    this.others = new RegistrationTracker(this.instance, this.ttlSeconds);
  }

  onModuleInit(): void {
    // Not awaited: start-up never waits for etcd.
    this.schedule(0);
  }

  /**
   * Stops renewing and revokes the lease, so that a restart does not wait for it to expire, in
   * about REVOKE_BOUND_MS at most. The watch is closed with the connection (EtcdConnection).
   */
  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const bound = Date.now() + REVOKE_BOUND_MS;
    await Promise.race([this.running, new Promise((r) => setTimeout(r, REVOKE_BOUND_MS).unref())]);
    const lease = this.lease;
    this.lease = undefined;
    if (lease) {
      await this.etcd.revokeLease(lease.id, bound).catch((err: unknown) => {
        this.log.warn(
          `could not revoke the registration's lease (it expires in ${lease.ttlSeconds} s): ${String(err)}`,
        );
      });
    }
  }

  /** The node-id check of /readyz: fails while another live plugin holds this NODE_ID. */
  status(): NodeIdStatus {
    if (this.duplicates.length === 0) {
      return { ok: true, detail: 'ok' };
    }
    return {
      ok: false,
      detail: `NODE_ID ${this.node} is also held by ${this.duplicates.map(describeRegistration).join(' and ')}`,
    };
  }

  private schedule(ms: number): void {
    if (this.closed) {
      return;
    }
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => {
        this.running = undefined;
        this.schedule(this.lease ? (this.lease.ttlSeconds * 1000) / 3 : RETRY_MS);
      });
    }, ms);
    this.timer.unref();
  }

  /** One round: renew (or register), keep the view of the others current, report duplicates. */
  private async round(): Promise<void> {
    try {
      await this.keepRegistered();
      await this.watchOthers();
      this.report(this.others.live(Date.now()));
      this.lastFailure = undefined;
    } catch (err) {
      if (this.closed) {
        return;
      }
      const why = err instanceof Error ? err.message : String(err);
      if (why !== this.lastFailure) {
        this.log.warn(`registration of NODE_ID ${this.node}: ${why}; trying again`);
        this.lastFailure = why;
      }
    }
  }

  /** The deadline of one step of a round: the lease must be renewed well within its TTL. */
  private stepDeadline(): Deadline {
    return Date.now() + (this.lease?.ttlSeconds ?? this.ttlSeconds) * 333;
  }

  private async keepRegistered(): Promise<void> {
    if (this.lease) {
      await this.renew(this.lease);
    }
    if (this.closed) {
      return;
    }
    if (!this.lease) {
      const granted = await this.etcd.grantLease(this.ttlSeconds, this.stepDeadline());
      this.lease = { ...granted, renewedAt: Date.now() };
      this.present = false;
    }
    if (!this.present) {
      await this.put(this.lease);
    }
  }

  private async renew(lease: { id: string; ttlSeconds: number; renewedAt: number }): Promise<void> {
    let left: number;
    try {
      left = await this.etcd.keepLeaseAlive(lease.id, this.stepDeadline());
    } catch (err) {
      if (Date.now() - lease.renewedAt > lease.ttlSeconds * 1000) {
        // Not renewed for a whole TTL: etcd has dropped it, and the registration with it.
        this.lease = undefined;
        this.present = false;
      }
      throw err;
    }
    if (left > 0) {
      lease.renewedAt = Date.now();
      return;
    }
    this.log.warn(
      `the lease of this plugin's registration under NODE_ID ${this.node} expired: registering again`,
    );
    this.lease = undefined;
    this.present = false;
  }

  private async put(lease: { id: string; ttlSeconds: number }): Promise<void> {
    const record: RegistrationRecord = {
      host: this.host,
      pid: process.pid,
      started: this.started,
      version: this.version,
      ttl: lease.ttlSeconds,
    };
    const key = buf(this.etcd.keys.registration(this.node, this.instance));
    await this.etcd.txn(
      {
        compare: [],
        success: [{ request_put: { key, value: json(record), lease: lease.id } }],
        failure: [],
      },
      this.stepDeadline(),
      'register_node',
    );
    this.present = true;
    this.log.log(
      `registered as instance ${this.instance} of NODE_ID ${this.node} on host ${this.host} ` +
        `(lease of ${lease.ttlSeconds} s)`,
    );
  }

  /** The registrations of this NODE_ID, listed, then watched (listed again after a drop). */
  private async watchOthers(): Promise<void> {
    const prefix = this.etcd.keys.registrationsOf(this.node);
    this.watch ??= this.etcd.prefixWatch<StoredRegistration[]>(
      prefix,
      `the registrations of NODE_ID ${this.node}`,
      (deadline) =>
        this.etcd.pagedRange(prefix, deadline, { keysOnly: false }, (kv) =>
          toRegistration(this.etcd.keys, kv),
        ),
      {
        reset: (registrations) => {
          this.present = registrations.some((r) => r.instance === this.instance);
          this.others.reset(registrations, Date.now());
        },
        put: (kv) => {
          const registration = toRegistration(this.etcd.keys, kv);
          if (registration?.instance === this.instance) {
            this.present = true;
          } else if (registration) {
            this.others.put(registration, Date.now());
          }
        },
        delete: (kv) => {
          const key = this.etcd.keys.parse(kv.key.toString());
          if (key.kind !== 'registration') {
            return;
          }
          if (key.instance === this.instance) {
            this.present = false; // deleted by hand: written again next round
          } else {
            this.others.delete(key.instance);
          }
        },
        stale: () => undefined, // the last view stands until the next round lists again
      },
    );
    if (this.watch.stale) {
      await this.watch.sync(this.stepDeadline());
    }
  }

  /** Logs when the set of other live instances changes; /readyz reads it (status). */
  private report(live: StoredRegistration[]): void {
    const before = this.duplicates.map((r) => r.instance).join();
    this.duplicates = live;
    if (live.map((r) => r.instance).join() === before) {
      return;
    }
    if (live.length > 0) {
      this.log.error(
        `NODE_ID ${this.node} is held by ${live.map(describeRegistration).join(' and ')}, ` +
          `as well as by this plugin on host ${this.host} (pid ${process.pid}, instance ` +
          `${this.instance}): they share their addresses, and either one's cleanup would free ` +
          `the other's; give every host its own NODE_ID`,
      );
    } else {
      this.log.log(`NODE_ID ${this.node} is held by this plugin alone again`);
    }
  }
}

/**
 * The registration of the running plugin (only the plugin imports it: the cleanup reads the
 * registrations, it does not register).
 */
@Module({})
export class NodeRegistrationModule {
  static forRoot(options: NodeRegistrationOptions): DynamicModule {
    return {
      module: NodeRegistrationModule,
      imports: [StoreModule],
      providers: [{ provide: NODE_REGISTRATION_OPTIONS, useValue: options }, NodeRegistration],
      exports: [NodeRegistration],
    };
  }
}
