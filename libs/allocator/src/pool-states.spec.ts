import { describe, expect, it } from 'vitest';
import { loadConfig } from '#app/config';
import { PoolNotFound } from '#app/ipam';
import type {
  AddressFeed,
  AddressFeedHandler,
  AllocationStore,
  PoolFeed,
  PoolFeedHandler,
  StoredPool,
} from '#app/store';
import { PoolStates } from './pool-states.js';

const POOL: StoredPool = {
  id: 'blue',
  record: { subnet: '10.0.0.0/28', gateway: '10.0.0.1/28' },
  createRevision: '7',
};

/** A store with one pool (or none); the test drives the feed of `pools/` (`pools`). */
function fakeStore(pool: StoredPool | undefined) {
  const seen = { readDeadlines: [] as number[], syncDeadlines: [] as number[], closed: 0 };
  const feeds: { pools?: PoolFeedHandler; addresses: AddressFeedHandler[] } = { addresses: [] };
  const store = {
    deadline: () => Date.now() + 10_000,
    getPool: (_id: string, deadline: number) => {
      seen.readDeadlines.push(deadline);
      return Promise.resolve(pool);
    },
    openPoolFeed: (handler: PoolFeedHandler) => {
      feeds.pools = handler;
      return {
        stale: false,
        sync: () => Promise.resolve(),
        close: () => Promise.resolve(),
      } as unknown as PoolFeed;
    },
    openAddressFeed: (_id: string, handler: AddressFeedHandler) => {
      feeds.addresses.push(handler);
      return {
        stale: false,
        sync: (deadline: number) => {
          seen.syncDeadlines.push(deadline);
          handler.reset(['10.0.0.1']);
          return Promise.resolve();
        },
        close: () => {
          seen.closed++;
          return Promise.resolve();
        },
      } as unknown as AddressFeed;
    },
  } as unknown as AllocationStore;
  return { store, seen, feeds };
}

const config = loadConfig({ NODE_ID: 'unit', ETCD_ENDPOINT: 'http://etcd-1:2379' });

/** Lets `then` callbacks queued on settled promises run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    await Promise.resolve();
  }
};

describe('PoolStates', () => {
  it('should read and list a pool with the deadline of the request that loads it, once', async () => {
    const { store, seen } = fakeStore(POOL);
    const states = new PoolStates(store, config);
    const state = await states.get('blue', 4_242);
    expect(state.pool).toBe(POOL);
    expect(await states.get('blue', 9_999)).toBe(state);
    expect(seen.readDeadlines).toEqual([4_242]);
    expect(seen.syncDeadlines).toEqual([4_242]);
  });

  it('should keep nothing of a pool that does not exist', async () => {
    const { store } = fakeStore(undefined);
    const states = new PoolStates(store, config);
    await expect(states.get('blue', Date.now() + 1_000)).rejects.toThrow(PoolNotFound);
    expect(states.size).toBe(0);
  });

  // The pool read has create revision 7.
  it.each([
    {
      name: 'a list that holds it',
      event: (h: PoolFeedHandler) => h.reset([{ id: 'blue', createRevision: 7n }], 10n),
      kept: true,
    },
    { name: 'a list without it', event: (h: PoolFeedHandler) => h.reset([], 10n), kept: false },
    {
      name: 'a list with it created again',
      event: (h: PoolFeedHandler) => h.reset([{ id: 'blue', createRevision: 12n }], 12n),
      kept: false,
    },
    {
      name: 'its own creation',
      event: (h: PoolFeedHandler) => h.created({ id: 'blue', createRevision: 7n }),
      kept: true,
    },
    {
      name: 'its creation again',
      event: (h: PoolFeedHandler) => h.created({ id: 'blue', createRevision: 12n }),
      kept: false,
    },
    { name: 'its deletion', event: (h: PoolFeedHandler) => h.deleted('blue', 11n), kept: false },
    {
      name: 'the deletion of another pool',
      event: (h: PoolFeedHandler) => h.deleted('green', 11n),
      kept: true,
    },
  ])('should follow the pools feed: $name (kept: $kept)', async ({ event, kept }) => {
    const { store, seen, feeds } = fakeStore(POOL);
    const states = new PoolStates(store, config);
    await states.get('blue', Date.now() + 1_000);
    event(feeds.pools!);
    await settle();
    expect(states.size).toBe(kept ? 1 : 0);
    expect(seen.closed).toBe(kept ? 0 : 1); // its address watch closed with it
  });

  it('should drop the state of a pool this node left, and close its watches', async () => {
    const { store, seen } = fakeStore(POOL);
    const states = new PoolStates(store, config);
    await states.get('blue', Date.now() + 1_000);
    states.drop('blue');
    expect(states.size).toBe(0);
    await settle();
    expect(seen.closed).toBe(1);
  });
});
