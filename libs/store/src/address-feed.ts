import type { IKeyValue } from 'etcd3';
import type { KeyLayout } from './keys.js';
import type { Deadline } from './etcd-connection.js';
import type { OpenPrefixWatch, PrefixWatch } from './prefix-watch.js';

export interface AddressFeedHandler {
  /** The full set, after the first list and after every re-list. */
  reset(ips: string[]): void;
  added(ip: string): void;
  removed(ip: string): void;
}

/**
 * A live view of one pool's allocated IPs: its address keys, listed and then watched
 * (PrefixWatch). `stale` tells callers to `sync` before they trust the view.
 */
export class AddressFeed {
  private readonly watch: PrefixWatch<string[]>;

  constructor(
    private readonly keys: KeyLayout,
    private readonly poolId: string,
    handler: AddressFeedHandler,
    open: OpenPrefixWatch<string[]>,
  ) {
    this.watch = open({
      reset: (ips) => handler.reset(ips),
      put: (kv) => {
        const ip = this.ipOf(kv);
        if (ip !== undefined) {
          handler.added(ip);
        }
      },
      delete: (kv) => {
        const ip = this.ipOf(kv);
        if (ip !== undefined) {
          handler.removed(ip);
        }
      },
      stale: () => undefined,
    });
  }

  /** true until the first list, and while a re-list is pending */
  get stale(): boolean {
    return this.watch.stale;
  }

  /**
   * Lists and (re)starts the watch, waiting for etcd no longer than `deadline` (the request's).
   * Concurrent callers share one re-list.
   */
  sync(deadline: Deadline): Promise<void> {
    return this.watch.sync(deadline);
  }

  close(): Promise<void> {
    return this.watch.close();
  }

  private ipOf(kv: IKeyValue): string | undefined {
    const key = this.keys.parse(kv.key.toString());
    return key.kind === 'address' && key.pool === this.poolId ? key.ip : undefined;
  }
}
