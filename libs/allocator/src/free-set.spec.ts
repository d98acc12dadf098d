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
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
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

  it('should reject a bad size', () => {
    expect(() => new FreeSet(-1)).toThrow(RangeError);
    expect(() => new FreeSet(1.5)).toThrow(RangeError);
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
