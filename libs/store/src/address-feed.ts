import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import type { IKeyValue, Watcher } from 'etcd3';

export interface AddressFeedHandler {
  /** The full set, after the first list and after every re-list. */
  reset(ips: string[]): void;
  added(ip: string): void;
  removed(ip: string): void;
}

interface FeedSource {
  list(): Promise<{ ips: string[]; revision: string }>;
  watch(prefix: string, fromRevision: string): Watcher;
}

/**
 * List-then-watch over one pool's address keys. etcd3's watcher resumes by itself after a
 * disconnect (from its last seen revision); when that revision was compacted meanwhile, or the
 * watch is cancelled, the feed lists again and starts a new watch from the list's revision, so
 * the handler never misses a change for long. `stale` tells callers when to distrust the view.
 */
export class AddressFeed {
  private readonly log = new Logger('AddressFeed');
  private watcher?: Watcher;
  private closed = false;
  private resyncing?: Promise<void>;
  /** true until the first list, and while a re-list is pending */
  stale = true;

  constructor(
    private readonly prefix: string,
    private readonly handler: AddressFeedHandler,
    private readonly source: FeedSource,
    private readonly onClose: () => void,
  ) {}

  /** Lists and (re)starts the watch. Concurrent callers share one re-list. */
  sync(): Promise<void> {
    this.resyncing ??= this.doSync().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.onClose();
    await this.stopWatch();
  }

  private async doSync(): Promise<void> {
    await this.stopWatch();
    const { ips, revision } = await this.source.list();
    if (this.closed) {
      return;
    }
    this.handler.reset(ips);
    const watcher = this.source.watch(this.prefix, String(BigInt(revision) + 1n));
    this.watcher = watcher;
    // A replaced watcher may still deliver late events: only the current one speaks.
    watcher.on('put', (kv: IKeyValue) => {
      const ip = this.watcher === watcher ? this.ipOf(kv) : undefined;
      if (ip !== undefined) {
        this.handler.added(ip);
      }
    });
    watcher.on('delete', (kv: IKeyValue) => {
      const ip = this.watcher === watcher ? this.ipOf(kv) : undefined;
      if (ip !== undefined) {
        this.handler.removed(ip);
      }
    });
    watcher.on('error', (err: Error) => {
      // Compaction or cancellation: this watcher is gone for good; list again when asked.
      this.log.warn(
        `address watch on ${this.describePrefix()} stopped (${err.message}); re-listing`,
      );
      if (this.watcher === watcher) {
        this.watcher = undefined;
        this.stale = true;
      }
    });
    this.stale = false;
  }

  private async stopWatch(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) {
      // Bounded: cancelling while etcd is unreachable must not hold up a request or shutdown.
      await Promise.race([watcher.cancel().catch(() => undefined), sleep(2_000)]);
    }
  }

  private ipOf(kv: IKeyValue): string | undefined {
    const key = kv.key.toString();
    return key.startsWith(this.prefix) ? key.slice(this.prefix.length) : undefined;
  }

  /** The pool id part of the prefix, for logs (no etcd key paths in operator messages). */
  private describePrefix(): string {
    const parts = this.prefix.split('/').filter(Boolean);
    return `pool ${parts[parts.length - 1] ?? '?'}`;
  }
}
