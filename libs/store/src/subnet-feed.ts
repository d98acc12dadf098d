import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { IKeyValue, Watcher } from 'etcd3';
import type { StoredSubnet } from './records.js';

export interface SubnetFeedHandler {
  /** Every reserved subnet, after the first list and after every re-list. */
  reset(subnets: StoredSubnet[]): void;
  /** A subnet reserved (or its record rewritten). */
  put(subnet: StoredSubnet): void;
  /** The subnet reservation of this network address was deleted. */
  deleted(network: string): void;
}

interface SubnetFeedSource {
  list(): Promise<{ subnets: StoredSubnet[]; revision: string }>;
  watch(fromRevision: string): Watcher;
  /** The subnet a watched key/value holds (undefined for a key that is not one). */
  decode(kv: IKeyValue): StoredSubnet | undefined;
  /** The network address of a watched key (undefined for a key that is not one). */
  network(kv: IKeyValue): string | undefined;
}

/**
 * List-then-watch over the `subnets/` keys, as AddressFeed is over one pool's addresses, with
 * the revision up to which the view is complete: the list's revision, then the revision of
 * every change the watch delivered (events come in revision order). RequestPool chooses from
 * this view and compares "no subnet key written after `revision`" in the create transaction, so
 * a view that lags behind only costs a failed compare and a fresh read, never an overlap.
 */
export class SubnetFeed {
  private readonly log = new Logger('SubnetFeed');
  private watcher?: Watcher;
  private closed = false;
  private resyncing?: Promise<void>;
  private seen = 0n;
  /** Callers waiting for the view to reach a revision (see caughtUp). */
  private readonly waiters = new Set<{ revision: bigint; done: (reached: boolean) => void }>();
  /** true until the first list, and while a re-list is pending */
  stale = true;

  constructor(
    private readonly handler: SubnetFeedHandler,
    private readonly source: SubnetFeedSource,
    private readonly onClose: () => void,
  ) {}

  /** Every change to a subnet key up to this revision is in the handler's view. */
  get revision(): string {
    return String(this.seen);
  }

  /** Lists and (re)starts the watch. Concurrent callers share one re-list. */
  sync(): Promise<void> {
    this.resyncing ??= this.doSync().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
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

  async close(): Promise<void> {
    this.closed = true;
    this.onClose();
    await this.stopWatch();
  }

  private async doSync(): Promise<void> {
    await this.stopWatch();
    const { subnets, revision } = await this.source.list();
    if (this.closed) {
      return;
    }
    this.handler.reset(subnets);
    this.seen = BigInt(revision);
    const watcher = this.source.watch(String(this.seen + 1n));
    this.watcher = watcher;
    // A replaced watcher may still deliver late events: only the current one speaks (a late
    // event must not move the revision either).
    watcher.on('put', (kv: IKeyValue) => {
      if (this.watcher !== watcher) {
        return;
      }
      const subnet = this.source.decode(kv);
      if (subnet) {
        this.handler.put(subnet);
      }
      this.advance(kv);
    });
    watcher.on('delete', (kv: IKeyValue) => {
      if (this.watcher !== watcher) {
        return;
      }
      const network = this.source.network(kv);
      if (network !== undefined) {
        this.handler.deleted(network);
      }
      this.advance(kv);
    });
    watcher.on('error', (err: Error) => {
      this.log.warn(`subnet watch stopped (${err.message}); re-listing`);
      if (this.watcher === watcher) {
        this.watcher = undefined;
        this.stale = true;
        for (const waiter of this.waiters) {
          waiter.done(false);
        }
      }
    });
    this.stale = false;
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

  private async stopWatch(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) {
      // Bounded: cancelling while etcd is unreachable must not hold up a request or shutdown.
      await Promise.race([watcher.cancel().catch(() => undefined), sleep(2_000)]);
    }
  }
}
