import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { IKeyValue, Watcher } from 'etcd3';
import { StoreUnavailable } from './errors.js';
import type { Deadline } from './etcd-connection.js';

/** What one list of the prefix returned, and the revision it was read at. */
export interface PrefixListing<L> {
  items: L;
  revision: string;
}

/** Where a PrefixWatch lists and watches (etcd, or a fake in unit tests). */
export interface PrefixWatchSource<L> {
  /** Lists the prefix, waiting for etcd until `deadline` (the request's that asked for it). */
  list(deadline: Deadline): Promise<PrefixListing<L>>;
  /** etcd3's watcher of the prefix, from this revision on. */
  watch(fromRevision: string): Watcher;
  /**
   * The error for a caller whose deadline passed before the list ended: EtcdConnection gives the
   * sentence a call that ran out of time gives, naming the endpoints and the last problem.
   */
  expired?(): Error;
}

/** What a view fed by a PrefixWatch is told. Only the current watcher's events arrive. */
export interface PrefixWatchHandler<L> {
  /** The whole prefix as listed, after the first list and after every re-list. */
  reset(items: L, revision: bigint): void;
  put(kv: IKeyValue): void;
  delete(kv: IKeyValue): void;
  /** The view stopped being current; it is re-listed on the next sync. */
  stale(): void;
}

/** Builds a PrefixWatch that feeds `handler` (how a feed gets its watch). */
export type OpenPrefixWatch<L> = (handler: PrefixWatchHandler<L>) => PrefixWatch<L>;

/** How long a cancel may take before the watch is given up on (etcd may be unreachable). */
const CANCEL_BOUND_MS = 2_000;

/**
 * List-then-watch over one etcd key prefix, the life cycle the address and subnet feeds share:
 * list at a revision, watch from the revision after it, let only the current watcher speak (a
 * replaced one may still deliver late events), and when the watch stops (its revision was
 * compacted, it was cancelled) or its stream drops, mark the view stale so that it is listed
 * again before it is trusted. `stale` tells callers when to call `sync` first.
 */
export class PrefixWatch<L> {
  private readonly log = new Logger('PrefixWatch');
  private watcher?: Watcher;
  private closed = false;
  private resyncing?: Promise<void>;
  /** The deadline of the caller that started `resyncing`: the list waits for etcd until then. */
  private resyncDeadline: Deadline = 0;
  private current = false;

  /**
   * @param what  names the view in log lines (`the subnets`); no etcd key paths
   * @param onClose  runs once on close (the connection forgets the watch)
   */
  constructor(
    private readonly what: string,
    private readonly source: PrefixWatchSource<L>,
    private readonly handler: PrefixWatchHandler<L>,
    private readonly onClose: () => void = () => undefined,
    private readonly cancelBoundMs = CANCEL_BOUND_MS,
  ) {}

  /** true until the first list, and from a stopped watch until the next list */
  get stale(): boolean {
    return !this.current;
  }

  /**
   * Lists and (re)starts the watch. Concurrent callers share one re-list, which waits for etcd
   * until the deadline of the caller that started it; each caller waits no longer than its own
   * `deadline` (a request waits at most ETCD_WAIT_TIMEOUT in all, lists included), then gets
   * StoreUnavailable.
   */
  async sync(deadline: Deadline): Promise<void> {
    for (;;) {
      if (this.resyncing === undefined) {
        this.resyncDeadline = deadline;
        this.resyncing = this.relist(deadline).finally(() => {
          this.resyncing = undefined;
        });
      }
      const startedFor = this.resyncDeadline;
      try {
        return await this.untilDeadline(this.resyncing, deadline);
      } catch (err) {
        // The shared list gave up at the earlier deadline of the caller that started it: this
        // caller has time left, so it lists again until its own (once: that list is its own).
        if (
          !(err instanceof StoreUnavailable) ||
          startedFor >= deadline ||
          Date.now() >= deadline
        ) {
          throw err;
        }
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.onClose();
    await this.stopWatch();
  }

  private async relist(deadline: Deadline): Promise<void> {
    await this.stopWatch();
    if (this.closed) {
      return;
    }
    const { items, revision } = await this.source.list(deadline);
    if (this.closed) {
      return;
    }
    this.handler.reset(items, BigInt(revision));
    const watcher = this.source.watch(String(BigInt(revision) + 1n));
    this.watcher = watcher;
    watcher.on('put', (kv: IKeyValue) => {
      if (this.watcher === watcher) {
        this.handler.put(kv);
      }
    });
    watcher.on('delete', (kv: IKeyValue) => {
      if (this.watcher === watcher) {
        this.handler.delete(kv);
      }
    });
    watcher.on('error', (err: Error) => this.lost(watcher, `stopped (${err.message})`));
    // etcd3 resumes a dropped watch after the header revision of the last reply it got
    // (node_modules/etcd3/lib/watch.js, Watcher.updateRevision). The "created" reply carries
    // etcd's current revision, and the changes since the watch's start revision follow it: if
    // the stream drops in between, the resumed watch skips them while later changes still
    // arrive. So a disconnect ends this watcher's view; the next sync lists again.
    watcher.on('disconnected', (err: Error) => {
      if (this.lost(watcher, `was disconnected (${err.message})`)) {
        void watcher.cancel().catch(() => undefined);
      }
    });
    this.current = true;
  }

  /** `work`, or StoreUnavailable once `deadline` has passed first. */
  private untilDeadline(work: Promise<void>, deadline: Deadline): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            this.source.expired?.() ??
              new StoreUnavailable(
                `gave up on listing ${this.what}: etcd did not answer before the request's deadline (ETCD_WAIT_TIMEOUT)`,
              ),
          ),
        Math.max(0, deadline - Date.now()),
      );
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  }

  /**
   * The watch of `watcher` can no longer be trusted to have delivered every change: the view is
   * stale until the next sync. False when `watcher` is not the current one (nothing to do).
   */
  private lost(watcher: Watcher, why: string): boolean {
    if (this.watcher !== watcher) {
      return false;
    }
    this.log.warn(`watch of ${this.what} ${why}; re-listing before its next use`);
    this.watcher = undefined;
    this.current = false;
    this.handler.stale();
    return true;
  }

  private async stopWatch(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) {
      // Bounded: cancelling while etcd is unreachable must not hold up a request or shutdown.
      await Promise.race([
        watcher.cancel().catch(() => undefined),
        sleep(this.cancelBoundMs, undefined, { ref: false }),
      ]);
    }
  }
}
