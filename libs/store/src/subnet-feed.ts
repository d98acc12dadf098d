import type { IKeyValue } from 'etcd3';
import type { KeyLayout } from './keys.js';
import { toSubnet } from './kv-records.js';
import type { Deadline } from './etcd-connection.js';
import type { OpenPrefixWatch, PrefixWatch } from './prefix-watch.js';
import type { StoredSubnet } from './records.js';

export interface SubnetFeedHandler {
  /** Every reserved subnet, after the first list and after every re-list. */
  reset(subnets: StoredSubnet[]): void;
  /** A subnet reserved (or its record rewritten). */
  put(subnet: StoredSubnet): void;
  /** The subnet reservation of this network address was deleted. */
  deleted(network: string): void;
}

/**
 * A live view of the `subnets/` keys (PrefixWatch), with the revision up to which it is
 * complete: the list's revision, then the revision of every change the watch delivered (events
 * come in revision order). RequestPool chooses from this view and compares "no subnet key
 * written after `revision`" in the create transaction, so a view that lags behind only costs a
 * failed compare and a fresh read, never an overlap.
 */
export class SubnetFeed {
  private readonly watch: PrefixWatch<StoredSubnet[]>;
  private seen = 0n;
  /** Callers waiting for the view to reach a revision (see caughtUp). */
  private readonly waiters = new Set<{ revision: bigint; done: (reached: boolean) => void }>();

  constructor(
    private readonly keys: KeyLayout,
    private readonly handler: SubnetFeedHandler,
    open: OpenPrefixWatch<StoredSubnet[]>,
  ) {
    this.watch = open({
      reset: (subnets, revision) => {
        handler.reset(subnets);
        this.seen = revision;
      },
      put: (kv) => this.put(kv),
      delete: (kv) => this.delete(kv),
      stale: () => {
        for (const waiter of this.waiters) {
          waiter.done(false);
        }
      },
    });
  }

  /** true until the first list, and while a re-list is pending */
  get stale(): boolean {
    return this.watch.stale;
  }

  /** Every change to a subnet key up to this revision is in the handler's view. */
  get revision(): string {
    return String(this.seen);
  }

  /**
   * Lists and (re)starts the watch, waiting for etcd no longer than `deadline` (the request's).
   * Concurrent callers share one re-list.
   */
  sync(deadline: Deadline): Promise<void> {
    return this.watch.sync(deadline);
  }

  /**
   * Resolves true once the view holds every change up to `revision` (a write of our own the
   * watch has not delivered yet, or the revision a failed compare answered with), false after
   * `timeoutMs` or when the view goes stale meanwhile. Waiting for the watch is cheaper than
   * listing every subnet again.
   */
  caughtUp(revision: string, timeoutMs: number): Promise<boolean> {
    const wanted = BigInt(revision);
    if (this.stale || this.seen >= wanted) {
      return Promise.resolve(!this.stale);
    }
    return new Promise((resolve) => {
      const waiter = {
        revision: wanted,
        done: (reached: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => waiter.done(false), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  close(): Promise<void> {
    return this.watch.close();
  }

  private put(kv: IKeyValue): void {
    const subnet = toSubnet(this.keys, kv);
    if (subnet) {
      this.handler.put(subnet);
    }
    this.advance(kv);
  }

  private delete(kv: IKeyValue): void {
    const key = this.keys.parse(kv.key.toString());
    if (key.kind === 'subnet') {
      this.handler.deleted(key.network);
    }
    this.advance(kv);
  }

  private advance(kv: IKeyValue): void {
    const revision = BigInt(kv.mod_revision);
    if (revision > this.seen) {
      this.seen = revision;
      for (const waiter of this.waiters) {
        if (waiter.revision <= revision) {
          waiter.done(true);
        }
      }
    }
  }
}
