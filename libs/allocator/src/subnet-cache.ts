import {
  Prefix,
  sortedIntervals,
  withInterval,
  withoutInterval,
  type SortedIntervals,
} from '#app/net';
import type { AllocationStore, Deadline, StoredSubnet, SubnetFeed } from '#app/store';

/** How long a request waits for the watch to deliver a change before reading afresh. */
const CATCH_UP_MS = 50;

/** A reserved subnet, parsed, and the pool it belongs to. */
export interface ReservedSubnet {
  prefix: Prefix;
  pool: string;
}

export interface SubnetView {
  reserved: readonly ReservedSubnet[];
  /** The reserved IPv4 subnets as sorted intervals, for the first-free sweep. */
  intervals: SortedIntervals;
  /** The reserved IPv6 subnets, likewise. */
  intervals6: SortedIntervals;
  /** The view holds every subnet written up to this revision: createPool's compare point. */
  revision: string;
}

/** A stored subnet, parsed; undefined for a record whose address does not parse. */
function parseReserved(s: StoredSubnet): ReservedSubnet | undefined {
  const prefix = Prefix.tryParse(s.record.address);
  return prefix ? { prefix, pool: s.record.pool } : undefined;
}

/** Parses what a fresh read of the subnets returned into the same shape as the cache's view. */
export function toSubnetView(read: { subnets: StoredSubnet[]; revision: string }): SubnetView {
  const reserved: ReservedSubnet[] = [];
  for (const s of read.subnets) {
    const r = parseReserved(s);
    if (r) {
      reserved.push(r);
    }
  }
  return {
    reserved,
    intervals: intervalsOf(reserved, 4),
    intervals6: intervalsOf(reserved, 6),
    revision: read.revision,
  };
}

function intervalsOf(reserved: readonly ReservedSubnet[], family: 4 | 6): SortedIntervals {
  return sortedIntervals(
    reserved.map((r) => r.prefix),
    family,
  );
}

/**
 * Every reserved subnet of the cluster, parsed once and kept fresh by the store's subnet watch,
 * so that RequestPool neither reads nor parses every subnet on each call. Opened on first use.
 * A hint only: see SubnetFeed.
 */
export class SubnetCache {
  private readonly byNetwork = new Map<string, ReservedSubnet>();
  private feed?: SubnetFeed;
  /**
   * The reserved subnets in order, kept up to date one change at a time (a watch event adds or
   * removes one subnet; sorting 1,000 of them afresh on each RequestPool cost more than its
   * choice of subnet). A new list per change: a view handed out never changes under its user.
   */
  private intervals: SortedIntervals = sortedIntervals([], 4);
  private intervals6: SortedIntervals = sortedIntervals([], 6);
  /** The list of reserved subnets, built on the first view after a change. */
  private reserved?: readonly ReservedSubnet[];

  constructor(private readonly store: AllocationStore) {}

  /**
   * The view, once it holds every subnet change up to `atLeast` (our own last create, or the
   * change that failed a compare); undefined when the watch does not get there within
   * CATCH_UP_MS, and the caller reads the subnets afresh instead. A list the view needs first
   * waits for etcd until the request's `deadline`.
   */
  async view(deadline: Deadline, atLeast?: string): Promise<SubnetView | undefined> {
    this.feed ??= this.store.openSubnetFeed({
      reset: (subnets) => this.reset(subnets),
      put: (s) => this.put(s),
      deleted: (network) => this.remove(network),
    });
    if (this.feed.stale) {
      await this.feed.sync(deadline);
    }
    if (atLeast !== undefined && !(await this.feed.caughtUp(atLeast, CATCH_UP_MS))) {
      return undefined;
    }
    this.reserved ??= [...this.byNetwork.values()];
    return {
      reserved: this.reserved,
      intervals: this.intervals,
      intervals6: this.intervals6,
      revision: this.feed.revision,
    };
  }

  async close(): Promise<void> {
    const feed = this.feed;
    this.feed = undefined;
    await feed?.close();
  }

  private reset(subnets: StoredSubnet[]): void {
    this.byNetwork.clear();
    for (const s of subnets) {
      const r = parseReserved(s);
      if (r) {
        this.byNetwork.set(s.network, r);
      }
    }
    this.reserved = undefined;
    const all = [...this.byNetwork.values()];
    this.intervals = intervalsOf(all, 4);
    this.intervals6 = intervalsOf(all, 6);
  }

  private put(s: StoredSubnet): void {
    this.remove(s.network);
    const r = parseReserved(s);
    if (r) {
      this.byNetwork.set(s.network, r);
      // Each list ignores a prefix of the other family (withInterval).
      this.intervals = withInterval(this.intervals, r.prefix);
      this.intervals6 = withInterval(this.intervals6, r.prefix);
    }
  }

  private remove(network: string): void {
    const old = this.byNetwork.get(network);
    if (old !== undefined) {
      this.byNetwork.delete(network);
      this.intervals = withoutInterval(this.intervals, old.prefix);
      this.intervals6 = withoutInterval(this.intervals6, old.prefix);
    }
    this.reserved = undefined;
  }
}
