import { Addr, type Family } from './addr.js';
import { compareBigInt } from './bigint.js';
import { Prefix, intervalOf } from './prefix.js';

/**
 * Reserved ranges of one family as inclusive [first, last] address values, sorted by first (then
 * last): what
 * {@link firstFreeSubnetIn} sweeps. Build it once per set of prefixes ({@link sortedIntervals})
 * and keep it while the set does not change: converting and sorting is most of a sweep's cost.
 */
export interface SortedIntervals {
  readonly family: Family;
  readonly intervals: readonly (readonly [bigint, bigint])[];
}

/** The prefixes of `family` among `prefixes`, as sorted intervals (other families are left out). */
export function sortedIntervals(prefixes: Iterable<Prefix>, family: Family): SortedIntervals {
  const intervals: [bigint, bigint][] = [];
  for (const p of prefixes) {
    if (p.family === family) {
      intervals.push(intervalOf(p));
    }
  }
  intervals.sort(compareIntervals);
  return { family, intervals };
}

/** The one order of a list: by first address, then by last. */
function compareIntervals(x: readonly [bigint, bigint], y: readonly [bigint, bigint]): number {
  return compareBigInt(x[0], y[0]) || compareBigInt(x[1], y[1]);
}

/** Where `[a, b]` goes in `intervals` (see compareIntervals): the first index not before it. */
function lowerBound(intervals: SortedIntervals['intervals'], a: bigint, b: bigint): number {
  let lo = 0;
  let hi = intervals.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIntervals(intervals[mid]!, [a, b]) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

/**
 * A new list with `p`'s interval added in order (the same list for a prefix of another family):
 * O(r) copying, where sorting afresh would be O(r log r) comparisons of bigints. Lists are never
 * changed in place, so a sweep can keep using the one it was given.
 */
export function withInterval(list: SortedIntervals, p: Prefix): SortedIntervals {
  if (p.family !== list.family) {
    return list;
  }
  const [a, b] = intervalOf(p);
  const at = lowerBound(list.intervals, a, b);
  return {
    family: list.family,
    intervals: [...list.intervals.slice(0, at), [a, b], ...list.intervals.slice(at)],
  };
}

/** A new list without one interval equal to `p`'s (the same list when there is none). */
export function withoutInterval(list: SortedIntervals, p: Prefix): SortedIntervals {
  if (p.family !== list.family) {
    return list;
  }
  const [a, b] = intervalOf(p);
  const at = lowerBound(list.intervals, a, b);
  const found = list.intervals[at];
  if (found === undefined || found[0] !== a || found[1] !== b) {
    return list;
  }
  return {
    family: list.family,
    intervals: [...list.intervals.slice(0, at), ...list.intervals.slice(at + 1)],
  };
}

/**
 * The first prefix of length `length` inside `supernet`, in ascending order, that overlaps none
 * of `reserved`. Reserved entries may be of any length, inside, outside or around the supernet;
 * other-family entries are ignored, so callers can pass one mixed list per pool. Host bits of
 * `supernet` are ignored (its masked network is searched).
 *
 * Returns undefined when nothing is free, or when `length` is not an integer between the
 * supernet's length and the family's bit width: "no such subnet" is an expected outcome for an
 * allocator, not an exception.
 *
 * Probing candidates one by one is hopeless for IPv6 (a /48 holds 65,536 /64s, a /32 holds
 * 2^32), so this sorts the reserved ranges as [start, end] intervals and sweeps them once,
 * jumping the candidate past each blocking interval to the next aligned boundary:
 * O(r log r) in the number of reserved prefixes, independent of the supernet's size.
 */
export function firstFreeSubnet(
  supernet: Prefix,
  length: number,
  reserved: Iterable<Prefix>,
): Prefix | undefined {
  return firstFreeSubnetIn(supernet, length, [sortedIntervals(reserved, supernet.family)]);
}

/**
 * {@link firstFreeSubnet} over ranges already sorted, in any number of lists (say, every pool's
 * subnet kept sorted between calls, and this host's few routes): the lists are merged as they are
 * swept, O(r) in the reserved ranges. Lists of another family than the supernet's are ignored.
 */
export function firstFreeSubnetIn(
  supernet: Prefix,
  length: number,
  reserved: readonly SortedIntervals[],
): Prefix | undefined {
  const bits = supernet.addr.bits;
  if (!Number.isInteger(length) || length < supernet.length || length > bits) {
    return undefined;
  }
  const [start, end] = intervalOf(supernet);
  const step = 1n << BigInt(bits - length);
  const lists = reserved.filter((r) => r.family === supernet.family).map((r) => r.intervals);
  const next = lists.map(() => 0);

  // Invariant: every interval already visited ends before `candidate`. Intervals are visited in
  // order of their start (the smallest next start of all lists), so the first one starting after
  // the candidate's last address proves the candidate free. `start` is aligned to the supernet
  // size, hence to `step`, so aligning absolute values keeps candidates on subnet boundaries.
  let candidate = start;
  for (;;) {
    let pick = -1;
    for (let l = 0; l < lists.length; l++) {
      const head = lists[l]![next[l]!];
      if (head !== undefined && (pick < 0 || head[0] < lists[pick]![next[pick]!]![0])) {
        pick = l;
      }
    }
    if (pick < 0) {
      break;
    }
    const [a, b] = lists[pick]![next[pick]!]!;
    next[pick]!++;
    if (a > candidate + step - 1n) {
      break;
    }
    if (b >= candidate) {
      candidate = ((b + step) / step) * step; // next multiple of step after b
      if (candidate > end) {
        return undefined;
      }
    }
  }
  return Prefix.of(Addr.fromBigInt(supernet.family, candidate), length);
}

/**
 * How many subnets of `length` the supernet has, how many of the pools lie in it (`carved`), and
 * how many of those subnets overlap no pool (`free`: a pool longer than the length takes one, a
 * shorter one all it covers). Interval arithmetic on bigints: exact for an IPv6 /48 of /64s.
 */
export function supernetUsage(
  supernet: Prefix,
  length: number,
  pools: Iterable<Prefix>,
): { subnets: bigint; carved: bigint; free: bigint } {
  const bits = BigInt(supernet.addr.bits - length);
  const total = length >= supernet.length ? 1n << BigInt(length - supernet.length) : 0n;
  const [start, end] = intervalOf(supernet);
  const blocks: [bigint, bigint][] = [];
  let carved = 0n;
  for (const p of pools) {
    if (!p.overlaps(supernet)) {
      continue;
    }
    if (supernet.containsPrefix(p)) {
      carved++;
    }
    const [a, b] = intervalOf(p);
    const from = a > start ? a : start;
    const to = b < end ? b : end;
    blocks.push([(from - start) >> bits, (to - start) >> bits]);
  }
  return { subnets: total, carved, free: total - coveredCount(blocks) };
}

/** How many integers the inclusive ranges cover together. */
function coveredCount(ranges: [bigint, bigint][]): bigint {
  ranges.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let covered = 0n;
  let upTo = -1n;
  for (const [a, b] of ranges) {
    const from = a > upTo ? a : upTo + 1n;
    if (b >= from) {
      covered += b - from + 1n;
      upTo = b;
    }
  }
  return covered;
}
