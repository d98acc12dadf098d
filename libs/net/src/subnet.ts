import { Addr } from './addr.js';
import { compareBigInt } from './bigint.js';
import { Prefix, intervalOf } from './prefix.js';

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
  const bits = supernet.addr.bits;
  if (!Number.isInteger(length) || length < supernet.length || length > bits) {
    return undefined;
  }
  const [start, end] = intervalOf(supernet);
  const step = 1n << BigInt(bits - length);

  const blocked: [bigint, bigint][] = [];
  for (const r of reserved) {
    if (r.family !== supernet.family) {
      continue;
    }
    const [a, b] = intervalOf(r);
    if (b >= start && a <= end) {
      blocked.push([a, b]);
    }
  }
  blocked.sort((x, y) => compareBigInt(x[0], y[0]));

  // Invariant: every interval already visited ends before `candidate`. Because the list is
  // sorted by start, the first interval starting after the candidate's last address proves
  // the candidate free. `start` is aligned to the supernet size, hence to `step`, so aligning
  // absolute values keeps candidates on subnet boundaries.
  let candidate = start;
  for (const [a, b] of blocked) {
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
