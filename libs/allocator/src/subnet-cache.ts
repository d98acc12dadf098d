import { Prefix } from '#app/net';
import type { EtcdStore, StoredSubnet, SubnetFeed } from '#app/store';

/** How long a request waits for the watch to deliver a change before reading afresh. */
const CATCH_UP_MS = 50;

/** A reserved subnet, parsed, and the pool it belongs to. */
export interface ReservedSubnet {
  prefix: Prefix;
  pool: string;
}

export interface SubnetView {
  reserved: ReservedSubnet[];
  /** The view holds every subnet written up to this revision: createPool's compare point. */
  revision: string;
}

/** Parses what a fresh read of the subnets returned into the same shape as the cache's view. */
export function toSubnetView(read: { subnets: StoredSubnet[]; revision: string }): SubnetView {
  const reserved: ReservedSubnet[] = [];
  for (const s of read.subnets) {
    const prefix = Prefix.tryParse(s.record.address);
    if (prefix) {
      reserved.push({ prefix, pool: s.record.pool });
    }
  }
  return { reserved, revision: read.revision };
}

/**
 * Every reserved subnet of the cluster, parsed once and kept fresh by the store's subnet watch,
 * so that RequestPool neither reads nor parses every subnet on each call. Opened on first use.
 * A hint only: see SubnetFeed.
 */
export class SubnetCache {
  private readonly byNetwork = new Map<string, ReservedSubnet>();
  private feed?: SubnetFeed;

  constructor(private readonly store: EtcdStore) {}

  /**
   * The view, once it holds every subnet change up to `atLeast` (our own last create, or the
   * change that failed a compare); undefined when the watch does not get there within
   * CATCH_UP_MS, and the caller reads the subnets afresh instead.
   */
  async view(atLeast?: string): Promise<SubnetView | undefined> {
    this.feed ??= this.store.openSubnetFeed({
      reset: (subnets) => {
        this.byNetwork.clear();
        subnets.forEach((s) => this.put(s));
      },
      put: (s) => this.put(s),
      deleted: (network) => this.byNetwork.delete(network),
    });
    if (this.feed.stale) {
      await this.feed.sync();
    }
    if (atLeast !== undefined && !(await this.feed.caughtUp(atLeast, CATCH_UP_MS))) {
      return undefined;
    }
    return { reserved: [...this.byNetwork.values()], revision: this.feed.revision };
  }

  async close(): Promise<void> {
    const feed = this.feed;
    this.feed = undefined;
    await feed?.close();
  }

  private put(s: StoredSubnet): void {
    const prefix = Prefix.tryParse(s.record.address);
    if (prefix) {
      this.byNetwork.set(s.network, { prefix, pool: s.record.pool });
    } else {
      this.byNetwork.delete(s.network);
    }
  }
}
