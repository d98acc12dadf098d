import { createHash } from 'node:crypto';
import { Addr, parseIPv4Number, type Family, type Prefix } from '#app/net';
import type { AddressFeed, AddressFeedHandler, AllocationStore, Deadline } from '#app/store';
import { FreeSet } from './free-set.js';

/** Addresses per slice: a /24, the widest range that one etcd key prefix (`a.b.c.`) covers. */
const SLICE_SIZE = 256;
/** Slices whose occupancy is read at once: a whole /16, in three read-only transactions. */
const SLICES_COUNTED = 256;
/** Slices a node reads of one pool before it lists and watches the whole pool instead. */
export const MAX_OPEN_SLICES = 8;

/** How a view that had no candidate left got more (PoolView.widen). */
export type Widened = 'grew' | 'relisted';

/**
 * What this node knows of the addresses allocated in one pool: a free set of the allocation
 * range (1 bit per address), fed by etcd watches, and the cursor candidates are taken after.
 * Only a hint for choosing candidates; the transactions decide (libs/store/README.md,
 * "Candidates").
 *
 * A pool larger than a /24 is read in slices of one /24 each (one key prefix each): the node
 * lists and watches only the slices it allocates from, preferring one that nobody uses yet, so
 * that in a pool shared by a fleet each allocation reaches the watches of one or two nodes
 * instead of every node's, and joining a pool of 60,000 addresses lists at most 256 of them.
 * Indexes of slices not read are kept taken, so they are never candidates. When the slices
 * read are full the node reads the emptiest other slice; when the counts show no room elsewhere,
 * or it reads MAX_OPEN_SLICES already, it lists and watches the whole pool, as it always does
 * before it answers "no addresses available".
 */
export class PoolView {
  readonly free: FreeSet;
  /** IPv6 ranges come here only up to a bitmap's size (address-view.ts), read whole. */
  private readonly family: Family;
  private readonly base: bigint;
  private readonly sliceSize: number;
  private readonly sliceCount: number;
  /** This node's offset in any slice (from SHA-256 of NODE_ID): nodes start apart. */
  private readonly offset: number;
  private cursor: number;
  private readonly network: number;
  private readonly broadcast: number;
  private readonly slices = new Map<number, AddressFeed>();
  private whole?: AddressFeed;
  private widening?: Promise<Widened>;

  constructor(
    private readonly store: AllocationStore,
    private readonly poolId: string,
    subnet: Prefix,
    range: Prefix,
    nodeId: string,
  ) {
    this.family = range.family;
    this.base = range.network().value;
    const size = Number(range.size());
    this.free = new FreeSet(size);
    this.free.fill(0, size, true); // nothing read yet: nothing is a candidate
    // IPv6 key text has no per-/24 prefix: such a range is one slice.
    this.sliceSize = this.family === 6 ? size : Math.min(SLICE_SIZE, size);
    this.sliceCount = Math.max(1, size / this.sliceSize); // sizes are powers of two
    this.network = this.indexOf(subnet.network().value) ?? -1;
    // IPv6 has no broadcast address: the last one is a host's.
    this.broadcast = this.family === 6 ? -1 : (this.indexOf(subnet.broadcast().value) ?? -1);
    const digest = createHash('sha256').update(nodeId).digest();
    this.offset = size > 0 ? digest.readUInt32BE(0) % size : 0;
    this.cursor = this.offset;
  }

  /**
   * Reads the first slice to allocate from (the whole range when it is one slice). Every read
   * here and below waits for etcd until `deadline`: the request's that needs it.
   */
  async open(deadline: Deadline): Promise<void> {
    const k = this.sliceCount === 1 ? 0 : await this.pickSlice(deadline);
    await (k === undefined ? this.openWhole(deadline) : this.openSlice(k, deadline));
  }

  /** true while a watch was lost: sync() before trusting the view */
  get stale(): boolean {
    return this.whole ? this.whole.stale : [...this.slices.values()].some((f) => f.stale);
  }

  /** Lists again what the view reads (every slice, or the whole pool). */
  async sync(deadline: Deadline): Promise<void> {
    await Promise.all([...this.feeds()].map((f) => f.sync(deadline)));
  }

  /**
   * The view has no candidate left: read more of the pool. Concurrent callers share one widening.
   * 'relisted' when the whole range was listed afresh (a view that is full after that is full);
   * 'grew' when another slice was read.
   */
  widen(deadline: Deadline): Promise<Widened> {
    this.widening ??= this.growOrRelist(deadline).finally(() => {
      this.widening = undefined;
    });
    return this.widening;
  }

  /** Takes the next free candidate after the cursor, or undefined when the view has none. */
  nextCandidate(): Addr | undefined {
    const i = this.free.nextFree(this.cursor);
    if (i < 0) {
      return undefined;
    }
    this.free.take(i);
    this.cursor = (i + 1) % this.free.size;
    return Addr.fromBigInt(this.family, this.base + BigInt(i));
  }

  reserveLocally(value: bigint): void {
    const i = this.indexOf(value);
    if (i !== undefined) {
      this.free.take(i);
    }
  }

  /** Frees an address in the view, unless it is the network or broadcast or in an unread slice. */
  releaseLocally(value: bigint): void {
    const i = this.indexOf(value);
    if (i !== undefined && i !== this.network && i !== this.broadcast && this.isRead(i)) {
      this.free.release(i);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.feeds()].map((f) => f.close()));
  }

  private *feeds(): Iterable<AddressFeed> {
    if (this.whole) {
      yield this.whole;
    }
    yield* this.slices.values();
  }

  private async growOrRelist(deadline: Deadline): Promise<Widened> {
    if (!this.whole && this.sliceCount > 1 && this.slices.size < MAX_OPEN_SLICES) {
      const k = await this.pickSlice(deadline);
      if (k !== undefined) {
        await this.openSlice(k, deadline);
        return 'grew';
      }
    }
    if (this.whole || this.sliceCount === 1) {
      await this.sync(deadline);
    } else {
      await this.openWhole(deadline);
    }
    return 'relisted';
  }

  /**
   * The slice to read next: the one with the fewest addresses (the nearest of equals) among the
   * first SLICES_COUNTED slices not read yet from this node's own on that has room, else among
   * the next SLICES_COUNTED, and so on; undefined when none has room.
   */
  private async pickSlice(deadline: Deadline): Promise<number | undefined> {
    const home = Math.floor(this.offset / this.sliceSize);
    const unread: number[] = [];
    for (let i = 0; i < this.sliceCount; i++) {
      const k = (home + i) % this.sliceCount;
      if (!this.slices.has(k)) {
        unread.push(k);
      }
    }
    for (let i = 0; i < unread.length; i += SLICES_COUNTED) {
      const window = unread.slice(i, i + SLICES_COUNTED);
      const counts = await this.store.countAddresses(
        this.poolId,
        window.map((k) => this.within(k)),
        deadline,
      );
      let best: number | undefined;
      let fewest = Infinity;
      window.forEach((k, j) => {
        const n = counts[j] ?? 0;
        if (n < this.capacity(k) && n < fewest) {
          best = k;
          fewest = n;
        }
      });
      if (best !== undefined) {
        return best;
      }
    }
    return undefined;
  }

  private async openSlice(k: number, deadline: Deadline): Promise<void> {
    const from = k * this.sliceSize;
    const to = from + this.sliceSize;
    const feed = this.store.openAddressFeed(
      this.poolId,
      this.handler((ips) => this.resetRange(from, to, ips)),
      this.within(k),
    );
    this.slices.set(k, feed);
    await feed.sync(deadline);
    this.cursor = from + (this.offset % this.sliceSize);
  }

  private async openWhole(deadline: Deadline): Promise<void> {
    const slices = [...this.slices.values()];
    this.slices.clear();
    await Promise.all(slices.map((f) => f.close()));
    this.whole = this.store.openAddressFeed(
      this.poolId,
      this.handler((ips) => this.resetRange(0, this.free.size, ips)),
    );
    await this.whole.sync(deadline);
  }

  private handler(reset: (ips: string[]) => void): AddressFeedHandler {
    return {
      reset,
      added: (ip) => {
        const a = Addr.tryParse(ip);
        if (a) {
          this.reserveLocally(a.value);
        }
      },
      removed: (ip) => {
        const a = Addr.tryParse(ip);
        if (a) {
          this.releaseLocally(a.value);
        }
      },
    };
  }

  /** [from, to) as listed: `ips` taken, the rest free, never the network or broadcast. */
  private resetRange(from: number, to: number, ips: string[]): void {
    this.free.fill(from, to, false);
    for (const i of [this.network, this.broadcast]) {
      if (i >= from && i < to) {
        this.free.take(i);
      }
    }
    // A pool's whole list at once (100,000 keys and more): plain numbers, not an Addr each.
    const base = Number(this.base);
    for (const ip of ips) {
      const n = this.family === 4 ? parseIPv4Number(ip) : undefined;
      const i = n === undefined ? this.v6Index(ip) : n - base;
      if (i >= from && i < to) {
        this.free.take(i);
      }
    }
  }

  /** The index of an IPv6 key (at most 65,536 of them: address-view.ts), or -1. */
  private v6Index(ip: string): number {
    const a = this.family === 6 ? Addr.tryParse(ip) : undefined;
    return (a?.family === 6 ? this.indexOf(a.value) : undefined) ?? -1;
  }

  private isRead(i: number): boolean {
    return this.whole !== undefined || this.slices.has(Math.floor(i / this.sliceSize));
  }

  private indexOf(value: bigint): number | undefined {
    const i = value - this.base;
    return i >= 0n && i < BigInt(this.free.size) ? Number(i) : undefined;
  }

  /** The IP text prefix of slice k's keys (`10.0.3.`): its first three octets. */
  private within(k: number): string {
    if (this.family === 6) {
      return ''; // one slice: the whole pool
    }
    const first = Addr.fromBigInt(4, this.base + BigInt(k * this.sliceSize)).toString();
    return first.slice(0, first.lastIndexOf('.') + 1);
  }

  /** How many addresses slice k can hand out (its indexes less network and broadcast). */
  private capacity(k: number): number {
    const from = k * this.sliceSize;
    const ends = [this.network, this.broadcast].filter(
      (i) => i >= from && i < from + this.sliceSize,
    );
    return this.sliceSize - ends.length;
  }
}
