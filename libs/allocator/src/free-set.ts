/**
 * The free addresses of one allocation range as a bitmap (1 = taken). Finding the next free
 * index scans 32 indexes per step and skips full words, so its cost stays flat as the range
 * fills: a /16 is 2,048 words, a /8 half a million (2 MiB) — kept only for pools this node uses.
 */
export class FreeSet {
  private readonly words: Uint32Array;
  private taken = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`FreeSet size must be a non-negative integer, got ${size}`);
    }
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  get takenCount(): number {
    return this.taken;
  }

  get freeCount(): number {
    return this.size - this.taken;
  }

  has(i: number): boolean {
    return i >= 0 && i < this.size && (this.words[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  /** Marks an index taken; returns false when it already was (or is out of range). */
  take(i: number): boolean {
    if (i < 0 || i >= this.size || this.has(i)) {
      return false;
    }
    this.words[i >>> 5]! |= 1 << (i & 31);
    this.taken++;
    return true;
  }

  /** Marks an index free; returns false when it already was (or is out of range). */
  release(i: number): boolean {
    if (!this.has(i)) {
      return false;
    }
    this.words[i >>> 5]! &= ~(1 << (i & 31));
    this.taken--;
    return true;
  }

  clear(): void {
    this.words.fill(0);
    this.taken = 0;
  }

  /**
   * Marks every index in [from, to) taken, or free, a word at a time (a /8 is 16 million
   * indexes). Indexes outside the set are ignored.
   */
  fill(from: number, to: number, taken: boolean): void {
    let i = Math.max(0, from);
    const end = Math.min(this.size, to);
    while (i < end) {
      const w = i >>> 5;
      const bit = i & 31;
      const n = Math.min(32 - bit, end - i);
      const mask = n === 32 ? 0xffffffff : (((1 << n) - 1) << bit) >>> 0;
      const old = this.words[w]!;
      const next = (taken ? old | mask : old & ~mask) >>> 0;
      this.taken += popcount(next) - popcount(old);
      this.words[w] = next;
      i += n;
    }
  }

  /** The first free index at or after `from`, wrapping around; -1 when all are taken. */
  nextFree(from: number): number {
    if (this.size === 0 || this.taken >= this.size) {
      return -1;
    }
    const start = ((from % this.size) + this.size) % this.size;
    const hit = this.scan(start, this.size);
    return hit >= 0 ? hit : this.scan(0, start);
  }

  /** First free index in [from, to). */
  private scan(from: number, to: number): number {
    let i = from;
    while (i < to) {
      const w = i >>> 5;
      const word = this.words[w]!;
      if (word === 0xffffffff) {
        i = (w + 1) << 5;
        continue;
      }
      const bit = i & 31;
      // Free bits at or after `bit` in this word.
      const free = ~word & (0xffffffff << bit);
      if (free !== 0) {
        const idx = (w << 5) + (31 - Math.clz32(free & -free));
        return idx < to ? idx : -1;
      }
      i = (w + 1) << 5;
    }
    return -1;
  }
}

/** The number of set bits of a 32-bit word. */
function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}
