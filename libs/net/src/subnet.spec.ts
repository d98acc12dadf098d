import { describe, expect, it } from 'vitest';

import { Addr, type Family } from './addr.js';
import { Prefix } from './prefix.js';
import {
  firstFreeSubnet,
  firstFreeSubnetIn,
  sortedIntervals,
  withInterval,
  withoutInterval,
} from './subnet.js';

const P = (s: string): Prefix => Prefix.parse(s);

/** Seeded PRNG (mulberry32) so the randomized tables are reproducible. */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function randInt(next: () => number, lo: number, hi: number): number {
  return lo + Math.floor(next() * (hi - lo + 1));
}

function shuffle(next: () => number, xs: number[]): number[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = randInt(next, 0, i);
    const tmp = xs[i] ?? 0;
    xs[i] = xs[j] ?? 0;
    xs[j] = tmp;
  }
  return xs;
}

/** Reference implementation: probe every candidate against every reserved prefix. */
function bruteForce(supernet: Prefix, length: number, reserved: Prefix[]): Prefix | undefined {
  if (!Number.isInteger(length) || length < supernet.length || length > supernet.addr.bits) {
    return undefined;
  }
  const net = supernet.masked();
  const step = 1n << BigInt(net.addr.bits - length);
  const end = net.broadcast().value;
  for (let v = net.addr.value; v <= end; v += step) {
    const candidate = Prefix.of(Addr.fromBigInt(net.family, v), length);
    if (!reserved.some((r) => r.overlaps(candidate))) {
      return candidate;
    }
  }
  return undefined;
}

/** Every prefix that, together, covers all of `p` except its last `length`-sized subnet. */
function allButLast(p: Prefix, length: number): Prefix[] {
  const out: Prefix[] = [];
  for (let l = p.length + 1; l <= length; l++) {
    // The lower half at each level: network with the bits above l all ones.
    const ones = ((1n << BigInt(l - 1 - p.length)) - 1n) << BigInt(p.addr.bits - l + 1);
    out.push(Prefix.of(Addr.fromBigInt(p.family, p.network().value | ones), l));
  }
  return out;
}

// oxlint-disable-next-line vitest/valid-title -- X.name keeps the title in step with renames
describe(firstFreeSubnet.name, () => {
  const cases: {
    name: string;
    supernet: string;
    length: number;
    reserved: string[];
    want?: string;
  }[] = [
    { name: 'length shorter than supernet', supernet: '10.0.0.0/16', length: 15, reserved: [] },
    { name: 'v4 length above 32', supernet: '10.0.0.0/16', length: 33, reserved: [] },
    { name: 'v6 length above 128', supernet: '2001:db8::/48', length: 129, reserved: [] },
    { name: 'negative length', supernet: '0.0.0.0/0', length: -1, reserved: [] },
    { name: 'fractional length', supernet: '10.0.0.0/16', length: 24.5, reserved: [] },
    {
      name: 'v4 /0 supernet, /0 length',
      supernet: '0.0.0.0/0',
      length: 0,
      reserved: [],
      want: '0.0.0.0/0',
    },
    {
      name: 'v4 /32 supernet, /32 length',
      supernet: '10.0.0.1/32',
      length: 32,
      reserved: [],
      want: '10.0.0.1/32',
    },
    {
      name: 'v4 /32 supernet reserved',
      supernet: '10.0.0.1/32',
      length: 32,
      reserved: ['10.0.0.1/32'],
    },
    {
      name: 'v6 /128 supernet, /128 length',
      supernet: '2001:db8::1/128',
      length: 128,
      reserved: ['2001:db8::/128', '2001:db8::2/128'],
      want: '2001:db8::1/128',
    },
    {
      name: 'length equals supernet length, free',
      supernet: '10.0.0.0/24',
      length: 24,
      reserved: ['10.0.1.0/24'],
      want: '10.0.0.0/24',
    },
    {
      name: 'length equals supernet length, one address taken',
      supernet: '10.0.0.0/24',
      length: 24,
      reserved: ['10.0.0.255/32'],
    },
    {
      name: 'empty reserved',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: [],
      want: '10.0.0.0/24',
    },
    {
      name: 'supernet host bits ignored',
      supernet: '10.0.77.5/16',
      length: 24,
      reserved: [],
      want: '10.0.0.0/24',
    },
    {
      name: 'reserved is the whole supernet',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: ['10.0.0.0/16'],
    },
    {
      name: 'reserved larger than supernet',
      supernet: '10.1.0.0/16',
      length: 24,
      reserved: ['10.0.0.0/8'],
    },
    {
      name: 'v6 reserved ::/0',
      supernet: '2001:db8::/48',
      length: 64,
      reserved: ['::/0'],
    },
    {
      name: 'reserved smaller than length inside first candidate',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: ['10.0.0.5/32'],
      want: '10.0.1.0/24',
    },
    {
      name: 'reserved /32 at end of first candidate',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: ['10.0.0.255/32'],
      want: '10.0.1.0/24',
    },
    {
      name: 'last subnet is the only free one',
      supernet: '10.0.0.0/24',
      length: 26,
      reserved: ['10.0.0.0/25', '10.0.0.128/26'],
      want: '10.0.0.192/26',
    },
    {
      name: 'last subnet taken by a /32, nothing free',
      supernet: '10.0.0.0/24',
      length: 26,
      reserved: ['10.0.0.0/25', '10.0.0.128/26', '10.0.0.200/32'],
    },
    {
      name: 'reserved outside the supernet',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: ['9.255.255.255/32', '10.1.0.0/16', '11.0.0.0/8', '0.0.0.0/8'],
      want: '10.0.0.0/24',
    },
    {
      name: 'reserved just below and above are ignored, first inside taken',
      supernet: '10.0.1.0/24',
      length: 25,
      reserved: ['10.0.0.0/24', '10.0.2.0/24', '10.0.1.0/25'],
      want: '10.0.1.128/25',
    },
    {
      name: 'cross-family reserved ignored (v4 pool)',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: ['::/0', '::ffff:10.0.0.0/104'],
      want: '10.0.0.0/24',
    },
    {
      name: 'cross-family reserved ignored (v6 pool)',
      supernet: '2001:db8::/48',
      length: 64,
      reserved: ['0.0.0.0/0'],
      want: '2001:db8::/64',
    },
    {
      name: 'unaligned gap is skipped',
      supernet: '10.0.0.0/24',
      length: 26,
      reserved: ['10.0.0.0/26', '10.0.0.96/27'],
      want: '10.0.0.128/26',
    },
    {
      name: 'gap too small for length',
      supernet: '10.0.0.0/23',
      length: 25,
      reserved: ['10.0.0.0/26', '10.0.0.128/25'],
      want: '10.0.1.0/25',
    },
    {
      name: 'unsorted, nested and duplicate reserved',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: ['10.0.2.0/24', '10.0.0.0/23', '10.0.1.7/32', '10.0.0.0/23', '10.0.3.0/25'],
      want: '10.0.4.0/24',
    },
    {
      name: 'short interval after a long one does not move the candidate back',
      supernet: '10.0.0.0/16',
      length: 24,
      reserved: ['10.0.0.0/22', '10.0.1.0/24', '10.0.2.5/32'],
      want: '10.0.4.0/24',
    },
    {
      name: 'v6 /64 in /48, first taken',
      supernet: '2001:db8:1::/48',
      length: 64,
      reserved: ['2001:db8:1::/64', '2001:db8:1:1::1/128'],
      want: '2001:db8:1:2::/64',
    },
    {
      name: 'v6 halving reserved blocks',
      supernet: '2001:db8:1::/48',
      length: 64,
      reserved: ['2001:db8:1:c000::/51', '2001:db8:1::/49', '2001:db8:1:8000::/50'],
      want: '2001:db8:1:e000::/64',
    },
  ];

  it.each(cases)('$name', ({ supernet, length, reserved, want }) => {
    const s = P(supernet);
    const r = reserved.map(P);
    expect(firstFreeSubnet(s, length, r)?.toString()).toBe(want);
    expect(bruteForce(s, length, r)?.toString()).toBe(want);
  });

  const lastOnly: { name: string; supernet: string; length: number; want: string }[] = [
    { name: 'v4 /0 to /32', supernet: '0.0.0.0/0', length: 32, want: '255.255.255.255/32' },
    { name: 'v4 /8 to /24', supernet: '10.0.0.0/8', length: 24, want: '10.255.255.0/24' },
    { name: 'v6 /0 to /128', supernet: '::/0', length: 128, want: `${'ffff:'.repeat(7)}ffff/128` },
    {
      name: 'v6 /48 to /64',
      supernet: '2001:db8:1::/48',
      length: 64,
      want: '2001:db8:1:ffff::/64',
    },
  ];
  it.each(lastOnly)('only the last subnet free: $name', ({ supernet, length, want }) => {
    const s = P(supernet);
    const reserved = allButLast(s, length);
    expect(firstFreeSubnet(s, length, reserved)?.toString()).toBe(want);
    // and once that one is taken too, nothing is left
    expect(firstFreeSubnet(s, length, [...reserved, P(want)])).toBeUndefined();
  });

  it('accepts any iterable of reserved prefixes', () => {
    function* gen(): Generator<Prefix> {
      yield P('10.0.0.0/24');
      yield P('10.0.1.0/24');
    }
    const s = P('10.0.0.0/16');
    expect(firstFreeSubnet(s, 24, gen())?.toString()).toBe('10.0.2.0/24');
    expect(firstFreeSubnet(s, 24, new Set([P('10.0.0.0/24')]))?.toString()).toBe('10.0.1.0/24');
  });

  it('finds the first free /64 among 10,000 random reserved /64s in a /48', () => {
    const next = rng(0x5eed);
    const supernet = P('2001:db8:abcd::/48');
    const base = supernet.network().value;
    // 10,000 distinct /64s drawn from the first 10,050 slots, so the answer sits somewhere
    // among them rather than trivially at slot 0 or right after a contiguous block.
    const slots = shuffle(
      next,
      Array.from({ length: 10_050 }, (_, i) => i),
    ).slice(0, 10_000);
    const taken = new Set(slots);
    const reserved = slots.map((i) => Prefix.of(Addr.fromBigInt(6, base + (BigInt(i) << 64n)), 64));

    // Brute force over slot indices: every reserved prefix is exactly one /64 slot here.
    let expected = 0;
    while (taken.has(expected)) {
      expected++;
    }
    const want = Prefix.of(Addr.fromBigInt(6, base + (BigInt(expected) << 64n)), 64);

    expect(firstFreeSubnet(supernet, 64, reserved)?.equals(want)).toBe(true);
  });

  it('finds the one hole among 10,000 shuffled /64s, then the slot after the block', () => {
    const next = rng(42);
    const supernet = P('2001:db8:abcd::/48');
    const base = supernet.network().value;
    const hole = randInt(next, 0, 9_999);
    const slots = shuffle(
      next,
      Array.from({ length: 10_001 }, (_, i) => i).filter((i) => i !== hole),
    );
    const reserved = slots.map((i) => Prefix.of(Addr.fromBigInt(6, base + (BigInt(i) << 64n)), 64));
    const want = Prefix.of(Addr.fromBigInt(6, base + (BigInt(hole) << 64n)), 64);
    expect(firstFreeSubnet(supernet, 64, reserved)?.equals(want)).toBe(true);

    const after = Prefix.of(Addr.fromBigInt(6, base + (10_001n << 64n)), 64);
    expect(firstFreeSubnet(supernet, 64, [...reserved, want])?.equals(after)).toBe(true);
  });

  // Smaller randomized cases with mixed reserved lengths (including longer, shorter, outside
  // and other-family ones), checked against the candidate-by-candidate reference.
  const random: { name: string; seed: number; family: Family }[] = Array.from(
    { length: 60 },
    (_, i) => ({
      name: `case ${i} IPv${i % 2 === 0 ? 4 : 6}`,
      // spread the seeds: mulberry32's first outputs for adjacent small seeds are correlated
      seed: Math.imul(i + 1, 0x9e3779b9) >>> 0,
      family: i % 2 === 0 ? 4 : 6,
    }),
  );
  it.each(random)('matches brute force: $name', ({ seed, family }) => {
    const next = rng(seed);
    const bits = family === 4 ? 32 : 128;
    // A 4096-address supernet inside a 4x larger neighbourhood, so brute force stays cheap and
    // reserved prefixes land inside, outside and around the supernet.
    const supernetLength = bits - 12;
    const hood = Prefix.of(
      Addr.parse(family === 4 ? '10.0.0.0' : '2001:db8::'),
      supernetLength - 2,
    );
    const at = (base: Prefix, offset: number, len: number): Prefix =>
      Prefix.of(Addr.fromBigInt(family, base.network().value + BigInt(offset)), len).masked();
    const supernet = at(hood, randInt(next, 0, Number(hood.size()) - 1), supernetLength);
    const length = randInt(next, supernetLength + 1, supernetLength + 8);
    const reserved: Prefix[] = [];
    const count = randInt(next, 0, 40);
    for (let i = 0; i < count; i++) {
      // Mostly small blocks crowding the low end of the supernet (where the answer is decided),
      // some anywhere in the neighbourhood, rarely one as large as or larger than the supernet.
      const len =
        next() < 0.01
          ? randInt(next, supernetLength - 2, supernetLength + 4)
          : randInt(next, supernetLength + 4, bits);
      reserved.push(
        next() < 0.7
          ? at(supernet, Math.floor(next() ** 2 * Number(supernet.size())), len)
          : at(hood, randInt(next, 0, Number(hood.size()) - 1), len),
      );
    }
    reserved.push(family === 4 ? P('::/0') : P('0.0.0.0/0'));

    const got = firstFreeSubnet(supernet, length, reserved);
    const want = bruteForce(supernet, length, reserved);
    expect(got?.toString()).toBe(want?.toString());

    // The same prefixes dealt at random into lists sorted one by one, plus a list of the other
    // family (whose /0 would block everything): firstFreeSubnetIn merges them as it sweeps.
    const hands: Prefix[][] = [[], [], []];
    for (const r of reserved) {
      hands[randInt(next, 0, hands.length - 1)]!.push(r);
    }
    const lists = [
      ...hands.map((h) => sortedIntervals(h, family)),
      sortedIntervals(reserved, family === 4 ? 6 : 4),
    ];
    expect(firstFreeSubnetIn(supernet, length, lists)?.toString()).toBe(want?.toString());
  });
});

describe('sortedIntervals', () => {
  it('keeps the prefixes of one family as [first, last] values in ascending order', () => {
    const got = sortedIntervals(
      [P('10.0.2.0/24'), P('2001:db8::/64'), P('10.0.0.0/23'), P('10.0.3.5/32')],
      4,
    );
    expect(got.family).toBe(4);
    expect(got.intervals).toEqual([
      [P('10.0.0.0/32').addr.value, P('10.0.1.255/32').addr.value],
      [P('10.0.2.0/32').addr.value, P('10.0.2.255/32').addr.value],
      [P('10.0.3.5/32').addr.value, P('10.0.3.5/32').addr.value],
    ]);
  });
});

describe('withInterval and withoutInterval', () => {
  it.each([1, 2, 3, 4, 5])(
    'keep the list equal to one sorted afresh, without changing the old one (seed %i)',
    (seed) => {
      const next = rng(seed);
      let list = sortedIntervals([], 4);
      const held: Prefix[] = [];
      for (let step = 0; step < 300; step++) {
        const before = list;
        const snapshot = [...before.intervals];
        if (held.length > 0 && next() < 0.4) {
          const [gone] = held.splice(randInt(next, 0, held.length - 1), 1);
          list = withoutInterval(list, gone!);
        } else {
          const len = randInt(next, 20, 28);
          const p = Prefix.of(Addr.fromBigInt(4, BigInt(randInt(next, 0, 2 ** 16)) << 8n), len);
          held.push(p.masked());
          list = withInterval(list, p.masked());
        }
        expect(before.intervals).toEqual(snapshot);
        expect(list.intervals).toEqual(sortedIntervals(held, 4).intervals);
      }
    },
  );

  it('leave the list as it is for another family or an interval it does not hold', () => {
    const list = sortedIntervals([P('10.0.0.0/24')], 4);
    expect(withInterval(list, P('2001:db8::/64'))).toBe(list);
    expect(withoutInterval(list, P('2001:db8::/64'))).toBe(list);
    expect(withoutInterval(list, P('10.0.0.0/25'))).toBe(list);
    expect(withoutInterval(list, P('10.0.0.0/24')).intervals).toEqual([]);
  });
});

describe('firstFreeSubnetIn', () => {
  it.each([
    { name: 'no lists', lists: [] as string[][], want: '10.0.0.0/24' },
    { name: 'one empty list', lists: [[]], want: '10.0.0.0/24' },
    {
      name: 'blocks alternate between two lists',
      lists: [
        ['10.0.0.0/24', '10.0.2.0/24'],
        ['10.0.1.0/24', '10.0.3.0/24'],
      ],
      want: '10.0.4.0/24',
    },
    {
      name: 'a large block in one list covers the other list',
      lists: [['10.0.0.0/22'], ['10.0.1.0/24', '10.0.4.0/24']],
      want: '10.0.5.0/24',
    },
    {
      name: 'everything taken across the lists',
      lists: [['10.0.0.0/17'], ['10.0.128.0/17']],
      want: undefined,
    },
  ])('$name', ({ lists, want }) => {
    const sorted = lists.map((l) => sortedIntervals(l.map(P), 4));
    expect(firstFreeSubnetIn(P('10.0.0.0/16'), 24, sorted)?.toString()).toBe(want);
  });
});
