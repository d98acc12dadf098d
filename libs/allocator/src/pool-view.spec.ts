import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Prefix } from '#app/net';
import type { AddressFeed, AddressFeedHandler, AllocationStore } from '#app/store';
import { MAX_OPEN_SLICES, PoolView } from './pool-view.js';

/** A deadline no test here reaches. */
const LATER = Date.now() + 600_000;

/** A feed the view opened: what it reads (`within`), and its handler to send events to. */
interface FakeFeed {
  within: string;
  closed: boolean;
  handler: AddressFeedHandler;
}

/**
 * A store over `etcd` (the pool's allocated IPs): lists, counts and feeds as AllocationStore does;
 * `countOf` answers the counts instead, for pools too big to fill here.
 */
function fakeStore(ips: string[], countOf?: (within: string) => number) {
  const etcd = new Set(ips);
  const feeds: FakeFeed[] = [];
  const counted: string[][] = [];
  /** The deadline each count and each list waited for etcd until. */
  const deadlines: number[] = [];
  const under = (within: string) => [...etcd].filter((ip) => ip.startsWith(within));
  const store = {
    deadline: () => Date.now() + 10_000,
    countAddresses: (_pool: string, withins: string[], deadline: number) => {
      counted.push([...withins]);
      deadlines.push(deadline);
      return Promise.resolve(withins.map((w) => countOf?.(w) ?? under(w).length));
    },
    openAddressFeed: (_pool: string, handler: AddressFeedHandler, within = '') => {
      const feed: FakeFeed = { within, closed: false, handler };
      feeds.push(feed);
      return {
        stale: false,
        sync: (deadline: number) => {
          deadlines.push(deadline);
          handler.reset(under(within));
          return Promise.resolve();
        },
        close: () => {
          feed.closed = true;
          return Promise.resolve();
        },
      } as unknown as AddressFeed;
    },
  };
  return { store: store as unknown as AllocationStore, etcd, feeds, counted, deadlines };
}

async function openView(subnet: string, ips: string[], range = subnet, node = 'node-a') {
  const s = fakeStore(ips);
  const view = new PoolView(s.store, 'p', Prefix.parse(subnet), Prefix.parse(range), node);
  await view.open(LATER);
  return { view, ...s, open: () => s.feeds.filter((f) => !f.closed).map((f) => f.within) };
}

/** Every candidate the view hands out until it has none. */
function drain(view: PoolView): string[] {
  const out: string[] = [];
  for (let a = view.nextCandidate(); a; a = view.nextCandidate()) {
    out.push(a.toString());
  }
  return out;
}

/** `n` addresses of the /24 `a.b.c.`, from .`from` on. */
function fill(slice: string, from: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${slice}${from + i}`);
}

describe('PoolView', () => {
  it.each([
    { name: 'a /30', subnet: '10.0.3.0/30', range: '10.0.3.0/30', within: '10.0.3.', free: 2 },
    { name: 'a /24', subnet: '10.0.3.0/24', range: '10.0.3.0/24', within: '10.0.3.', free: 254 },
    {
      name: 'a /25 range of a /16',
      subnet: '10.0.0.0/16',
      range: '10.0.3.128/25',
      within: '10.0.3.',
      free: 128,
    },
  ])(
    'should read a pool of one /24 or less as one slice, without counting: $name',
    async ({ subnet, range, within, free }) => {
      const t = await openView(subnet, [], range);
      expect(t.open()).toEqual([within]);
      expect(t.counted).toEqual([]);
      expect(drain(t.view)).toHaveLength(free);
    },
  );

  it('should never hand out the network or broadcast address', async () => {
    const t = await openView('10.0.3.0/24', []);
    const all = drain(t.view);
    expect(all).not.toContain('10.0.3.0');
    expect(all).not.toContain('10.0.3.255');
  });

  it('should read only the emptiest slice of a big pool and hand out candidates there', async () => {
    const t = await openView('10.0.0.0/22', [
      '10.0.0.1',
      ...fill('10.0.1.', 0, 3),
      ...fill('10.0.3.', 0, 5),
    ]);
    expect(t.counted).toEqual([
      expect.arrayContaining(['10.0.0.', '10.0.1.', '10.0.2.', '10.0.3.']),
    ]);
    expect(t.open()).toEqual(['10.0.2.']);
    const all = drain(t.view);
    expect(all).toHaveLength(256);
    expect(all.every((ip) => ip.startsWith('10.0.2.'))).toBe(true);
  });

  it('should count further slices, a window at a time, until one has room', async () => {
    const subnet = Prefix.parse('10.0.0.0/15'); // 512 slices, two windows of 256
    const home = (createHash('sha256').update('node-a').digest().readUInt32BE(0) % 131072) >> 8;
    const free = (home + 300) % 512;
    const within = `10.${free >> 8}.${free & 255}.`;
    const s = fakeStore([], (w) => (w === within ? 0 : 256));
    const view = new PoolView(s.store, 'p', subnet, subnet, 'node-a');
    await view.open(LATER);
    expect(s.counted.map((c) => c.length)).toEqual([256, 256]);
    expect(s.feeds.map((f) => f.within)).toEqual([within]);
  });

  it('should grow to the emptiest slice not read yet when the read ones are full', async () => {
    const t = await openView('10.0.0.0/22', [
      '10.0.0.1',
      ...fill('10.0.1.', 0, 256),
      ...fill('10.0.2.', 0, 10),
      ...fill('10.0.3.', 0, 256),
    ]);
    expect(t.open()).toEqual(['10.0.0.']);
    expect(drain(t.view)).toHaveLength(254); // less the network address and the gateway
    expect(await t.view.widen(LATER)).toBe('grew');
    expect(t.open()).toEqual(['10.0.0.', '10.0.2.']);
    const more = drain(t.view);
    expect(more).toHaveLength(246);
    expect(more.every((ip) => ip.startsWith('10.0.2.'))).toBe(true);
  });

  it('should list and watch the whole pool when no other slice has room, and then be full', async () => {
    const t = await openView('10.0.0.0/23', ['10.0.0.1', ...fill('10.0.1.', 0, 255)]);
    expect(t.open()).toEqual(['10.0.0.']);
    for (const ip of drain(t.view)) {
      t.etcd.add(ip); // reserved
    }
    expect(await t.view.widen(LATER)).toBe('relisted');
    expect(t.open()).toEqual(['']);
    expect(drain(t.view)).toEqual([]);
    t.etcd.delete('10.0.1.7'); // freed elsewhere: the whole pool's watch tells
    t.feeds.at(-1)?.handler.removed('10.0.1.7');
    expect(drain(t.view)).toEqual(['10.0.1.7']);
  });

  it(`should watch the whole pool rather than more than ${MAX_OPEN_SLICES} slices`, async () => {
    const t = await openView('10.0.0.0/20', []);
    for (let i = 1; i < MAX_OPEN_SLICES; i++) {
      expect(await t.view.widen(LATER)).toBe('grew');
    }
    expect(t.open()).toHaveLength(MAX_OPEN_SLICES);
    expect(await t.view.widen(LATER)).toBe('relisted');
    expect(t.open()).toEqual(['']);
    expect(drain(t.view)).toHaveLength(4094);
  });

  it('should follow its slices through their watches and ignore addresses of slices not read', async () => {
    const t = await openView('10.0.0.0/22', [
      ...fill('10.0.0.', 0, 256),
      ...fill('10.0.1.', 0, 256),
      ...fill('10.0.3.', 0, 256),
    ]);
    expect(t.open()).toEqual(['10.0.2.']);
    const feed = t.feeds[0]!;
    const all = drain(t.view);
    expect(all).toHaveLength(256);
    t.view.releaseLocally(Prefix.parse('10.0.1.9/32').addr.value); // not read: stays unknown
    feed.handler.removed('10.0.2.40');
    expect(drain(t.view)).toEqual(['10.0.2.40']);
    t.view.releaseLocally(Prefix.parse('10.0.2.41/32').addr.value);
    feed.handler.added('10.0.2.41'); // taken again elsewhere before our next candidate
    expect(drain(t.view)).toEqual([]);
  });

  it('should start apart from other nodes in a shared slice', async () => {
    const ips = [...fill('10.0.1.', 0, 256)];
    const a = await openView('10.0.0.0/23', ips, '10.0.0.0/23', 'node-a');
    const b = await openView('10.0.0.0/23', ips, '10.0.0.0/23', 'node-b');
    expect(a.open()).toEqual(b.open());
    expect(a.view.nextCandidate()?.toString()).not.toBe(b.view.nextCandidate()?.toString());
  });

  it('should count and list with the deadline of the request that reads the pool', async () => {
    const s = fakeStore([]);
    const view = new PoolView(
      s.store,
      'p',
      Prefix.parse('10.0.0.0/16'),
      Prefix.parse('10.0.0.0/16'),
      'node-a',
    );
    await view.open(4_242);
    for (let i = 0; i < 254; i++) {
      view.nextCandidate(); // the first slice, used up
    }
    expect(await view.widen(5_353)).toBe('grew');
    expect(s.deadlines).toEqual([4_242, 4_242, 5_353, 5_353]);
  });
});
