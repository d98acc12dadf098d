import { describe, expect, it } from 'vitest';
import { FreeSet } from './free-set.js';

describe('FreeSet', () => {
  it.each([
    { name: 'empty set', size: 0, taken: [], from: 0, next: -1 },
    { name: 'one free', size: 1, taken: [], from: 0, next: 0 },
    { name: 'one taken', size: 1, taken: [0], from: 0, next: -1 },
    { name: 'from is the free one', size: 8, taken: [], from: 5, next: 5 },
    { name: 'skips taken', size: 8, taken: [5, 6], from: 5, next: 7 },
    { name: 'wraps around', size: 8, taken: [5, 6, 7], from: 5, next: 0 },
    { name: 'wraps to before from', size: 8, taken: [0, 1, 2, 4, 5, 6, 7], from: 4, next: 3 },
    { name: 'from beyond size wraps', size: 8, taken: [], from: 11, next: 3 },
    { name: 'negative from wraps', size: 8, taken: [], from: -1, next: 7 },
    { name: 'bit 31 of a word', size: 64, taken: range(0, 31), from: 0, next: 31 },
    { name: 'first bit of the second word', size: 64, taken: range(0, 32), from: 0, next: 32 },
    { name: 'last index of a partial word', size: 40, taken: range(0, 39), from: 3, next: 39 },
    { name: 'all taken in a partial word', size: 40, taken: range(0, 40), from: 3, next: -1 },
    { name: 'full words skipped', size: 65536, taken: range(0, 65535), from: 100, next: 65535 },
  ])('should find the next free index: $name', ({ size, taken, from, next }) => {
    const set = new FreeSet(size);
    for (const i of taken) {
      set.take(i);
    }
    expect(set.nextFree(from)).toBe(next);
    expect(set.takenCount).toBe(taken.length);
    expect(set.freeCount).toBe(size - taken.length);
  });

  it('should count take and release once each', () => {
    const set = new FreeSet(10);
    expect(set.take(3)).toBe(true);
    expect(set.take(3)).toBe(false);
    expect(set.take(10)).toBe(false);
    expect(set.take(-1)).toBe(false);
    expect(set.has(3)).toBe(true);
    expect(set.release(3)).toBe(true);
    expect(set.release(3)).toBe(false);
    expect(set.takenCount).toBe(0);
  });

  it('should agree with a naive scan on random fills', () => {
    const rand = randomInts(42);
    for (let round = 0; round < 200; round++) {
      const size = 1 + rand(300);
      const set = new FreeSet(size);
      const naive: boolean[] = Array.from({ length: size }, () => false);
      for (let k = rand(size + 1); k > 0; k--) {
        const i = rand(size);
        set.take(i);
        naive[i] = true;
      }
      const from = rand(size);
      const order = [...range(from, size), ...range(0, from)];
      expect(set.nextFree(from)).toBe(order.find((i) => !naive[i]) ?? -1);
    }
  });

  it.each([
    { name: 'empty range', size: 64, from: 5, to: 5, taken: true, set: [] },
    {
      name: 'range clamped to the set',
      size: 40,
      from: -3,
      to: 50,
      taken: true,
      set: range(0, 40),
    },
    { name: 'inside one word', size: 64, from: 3, to: 9, taken: true, set: range(3, 9) },
    { name: 'bit 31 alone', size: 64, from: 31, to: 32, taken: true, set: [31] },
    { name: 'one whole word', size: 96, from: 32, to: 64, taken: true, set: range(32, 64) },
    { name: 'across words', size: 256, from: 30, to: 200, taken: true, set: range(30, 200) },
    { name: 'a slice of 256', size: 65536, from: 512, to: 768, taken: true, set: range(512, 768) },
    {
      name: 'freed inside taken',
      size: 64,
      from: 10,
      to: 40,
      taken: false,
      set: [...range(0, 10), ...range(40, 64)],
    },
  ])('should fill a range at once: $name', ({ size, from, to, taken, set }) => {
    const fs = new FreeSet(size);
    if (!taken) {
      fs.fill(0, size, true);
    }
    fs.fill(from, to, taken);
    expect(range(0, size).filter((i) => fs.has(i))).toEqual(set);
    expect(fs.takenCount).toBe(set.length);
  });

  it('should agree with take and release on random fills', () => {
    const rand = randomInts(7);
    for (let round = 0; round < 200; round++) {
      const size = 1 + rand(300);
      const fs = new FreeSet(size);
      const naive: boolean[] = Array.from({ length: size }, () => false);
      for (let k = rand(6); k > 0; k--) {
        const from = rand(size);
        const to = from + rand(size - from + 1);
        const taken = rand(2) === 0;
        fs.fill(from, to, taken);
        for (let i = from; i < to; i++) {
          naive[i] = taken;
        }
      }
      expect(range(0, size).map((i) => fs.has(i))).toEqual(naive);
      expect(fs.takenCount).toBe(naive.filter(Boolean).length);
    }
  });

  it('should reject a bad size', () => {
    expect(() => new FreeSet(-1)).toThrow(RangeError);
    expect(() => new FreeSet(1.5)).toThrow(RangeError);
  });
});

/** A seeded generator of integers below n (a linear congruential one: the same seed, the same fills). */
function randomInts(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
