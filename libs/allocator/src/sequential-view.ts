import { createHash } from 'node:crypto';
import { Addr, type Prefix } from '#app/net';
import type { AllocationStore, Deadline } from '#app/store';
import type { Widened } from './pool-view.js';

/** Addresses probed per read when looking for where this node's allocations end. */
const PROBES = 64;
/** Candidates handed back (a failed claim, a release) that are offered again first. */
const MAX_RETURNED = 64;
/** Nodes get lanes 2^16 apart in a range of at least 2^32 addresses (a /96 or larger). */
const LANE_BITS = 16n;
const MIN_LANED_BITS = 32n;

/**
 * Where candidates come from in an IPv6 range too large for a bitmap (a /64 holds 2^64
 * addresses): a cursor, nothing that grows with the range or with the pool's fill. Each node
 * counts up from its own lane, so the addresses it hands out are compact and readable
 * (`fd12:3456:789a:0:4f2a::1`, `…::2`, …) and nodes rarely claim the same one; a claim that
 * another node got first fails its compare and the next address is tried. Only a hint, like
 * PoolView: the reservation's compare decides (libs/store/README.md, "Candidates").
 *
 * Nothing is watched: on its first allocation the node finds where its lane's allocations end with
 * a few reads of single keys (a lane is filled from its start, so the first free probe of 1, 2, 4,
 * 8, … addresses in, narrowed down, is past them). The cursor then only moves forward, and wraps
 * at the end of the range; after a whole range of candidates without a fresh list, the next
 * candidate waits for one (widen), which also decides "exhausted".
 */
export class SequentialView {
  private readonly family = 6;
  private readonly first: bigint;
  private readonly last: bigint;
  /** This node's first address: its lane. */
  private readonly start: bigint;
  private cursor: bigint;
  /** Candidates handed out since the last look at the pool: a whole range of them means "list". */
  private handed = 0n;
  private readonly returned: bigint[] = [];
  private readonly size: bigint;

  constructor(
    private readonly store: AllocationStore,
    private readonly poolId: string,
    subnet: Prefix,
    range: Prefix,
    nodeId: string,
  ) {
    // The subnet-router anycast address (the subnet's first) is never a candidate; the last
    // address is one: IPv6 has no broadcast.
    const [rangeStart, rangeEnd] = [range.network().value, range.broadcast().value];
    this.first = rangeStart === subnet.network().value ? rangeStart + 1n : rangeStart;
    this.last = rangeEnd;
    this.size = this.last - this.first + 1n;
    this.start = this.first + (laneOffset(nodeId, range) % this.size);
    this.cursor = this.start;
  }

  get stale(): boolean {
    return false;
  }

  async open(deadline: Deadline): Promise<void> {
    this.cursor = await this.endOfLane(deadline);
  }

  async sync(_deadline: Deadline): Promise<void> {}

  /**
   * A whole range of candidates went by since the last look: list the pool, and go on from the
   * first free address after the cursor, or stay full ('relisted' either way: the list was whole).
   */
  async widen(deadline: Deadline): Promise<Widened> {
    const { ips } = await this.store.listAddressKeys(this.poolId, deadline);
    const taken = new Set<bigint>();
    for (const ip of ips) {
      const a = Addr.tryParse(ip);
      if (a && a.family === this.family && a.value >= this.first && a.value <= this.last) {
        taken.add(a.value);
      }
    }
    if (BigInt(taken.size) < this.size) {
      let c = this.cursor;
      while (taken.has(c)) {
        c = c === this.last ? this.first : c + 1n;
      }
      this.cursor = c;
      this.handed = 0n;
    }
    return 'relisted';
  }

  nextCandidate(): Addr | undefined {
    const back = this.returned.pop();
    if (back !== undefined) {
      return Addr.fromBigInt(this.family, back);
    }
    if (this.handed >= this.size) {
      return undefined;
    }
    const value = this.cursor;
    this.cursor = value === this.last ? this.first : value + 1n;
    this.handed++;
    return Addr.fromBigInt(this.family, value);
  }

  /** Nothing to mark: an address taken ahead of the cursor fails its claim once, then is passed. */
  reserveLocally(_value: bigint): void {}

  /** A candidate back (its claim failed, or it was released): offered again first. */
  releaseLocally(value: bigint): void {
    if (value >= this.first && value <= this.last && this.returned.length < MAX_RETURNED) {
      this.returned.push(value);
    }
  }

  async close(): Promise<void> {}

  /**
   * Where this node's allocations in its lane end: probes 1, 2, 4, … addresses past the lane's
   * start (one read of PROBES single keys), then narrows the gap between the last taken and the
   * first free probe with PROBES evenly spaced probes per read, down to one address.
   */
  private async endOfLane(deadline: Deadline): Promise<bigint> {
    const gallop: bigint[] = [];
    for (let step = 1n; gallop.length < PROBES; step *= 2n) {
      const at = this.start + step - 1n;
      if (at > this.last) {
        break;
      }
      gallop.push(at);
    }
    let [lo, hi] = await this.firstFree(gallop, this.start - 1n, deadline);
    while (hi !== undefined && hi - lo > 1n) {
      const gap = hi - lo;
      const n = gap - 1n < BigInt(PROBES) ? gap - 1n : BigInt(PROBES);
      const probes = Array.from(
        { length: Number(n) },
        (_, i) => lo + ((BigInt(i) + 1n) * gap) / (n + 1n),
      );
      const [l, h] = await this.firstFree(probes, lo, deadline);
      lo = l;
      hi = h ?? hi;
    }
    return hi ?? (lo >= this.last ? this.first : lo + 1n);
  }

  /** The last taken probe before the first free one (or `before`), and that free one. */
  private async firstFree(
    probes: bigint[],
    before: bigint,
    deadline: Deadline,
  ): Promise<[bigint, bigint | undefined]> {
    const ips = probes.map((p) => Addr.fromBigInt(this.family, p).toString());
    const exist = await this.store.addressesExist(this.poolId, ips, deadline);
    const j = exist.indexOf(false);
    if (j < 0) {
      return [probes.at(-1) ?? before, undefined];
    }
    return [j === 0 ? before : probes[j - 1]!, probes[j]!];
  }
}

/**
 * This node's lane in a range: from SHA-256 of NODE_ID, 2^16 lanes in a range of 2^32 addresses
 * or more (in a /64: the fifth group, `…:4f2a::1`), else an offset anywhere in the range.
 */
export function laneOffset(nodeId: string, range: Prefix): bigint {
  const digest = createHash('sha256').update(nodeId).digest();
  const bits = BigInt(range.addr.bits - range.length);
  if (bits >= MIN_LANED_BITS) {
    return BigInt(digest.readUInt16BE(0)) << (bits - LANE_BITS);
  }
  return BigInt(digest.readUInt32BE(0)) % (1n << bits);
}
