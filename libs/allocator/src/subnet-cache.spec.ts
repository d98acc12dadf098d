import { describe, expect, it } from 'vitest';

import { Prefix } from '#app/net';
import type { AllocationStore, StoredSubnet, SubnetFeed, SubnetFeedHandler } from '#app/store';

import { SubnetCache, toSubnetView } from './subnet-cache.js';

/** A deadline no test here reaches. */
const LATER = Date.now() + 600_000;

const subnet = (address: string, pool = `pool-${address}`): StoredSubnet => ({
  network: address.split('/')[0]!,
  record: { address, pool },
});

/** A store whose subnet feed is driven by the test: `handler` is what the cache registered. */
function fakeStore(initial: StoredSubnet[], opts: { stale?: boolean } = {}) {
  const state: { handler?: SubnetFeedHandler; revision: string; syncDeadlines: number[] } = {
    revision: '10',
    syncDeadlines: [],
  };
  const feed = {
    stale: opts.stale ?? false,
    get revision() {
      return state.revision;
    },
    caughtUp: () => Promise.resolve(true),
    sync: (deadline: number) => {
      state.syncDeadlines.push(deadline);
      feed.stale = false;
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  const store = {
    openSubnetFeed: (handler: SubnetFeedHandler) => {
      state.handler = handler;
      handler.reset(initial);
      return feed as unknown as SubnetFeed;
    },
  } as unknown as AllocationStore;
  return { store, state };
}

const text = (view: { intervals: { intervals: readonly (readonly [bigint, bigint])[] } }) =>
  view.intervals.intervals.map(([a, b]) => `${a}-${b}`);
const interval = (p: string) => {
  const prefix = Prefix.parse(p);
  return `${prefix.network().value}-${prefix.broadcast().value}`;
};

describe('SubnetCache', () => {
  it('serves the reserved subnets sorted, and the same sorted list until one changes', async () => {
    const { store, state } = fakeStore([subnet('10.80.2.0/24'), subnet('10.80.0.0/23')]);
    const cache = new SubnetCache(store);

    const first = (await cache.view(LATER))!;
    expect(first.revision).toBe('10');
    expect(text(first)).toEqual([interval('10.80.0.0/23'), interval('10.80.2.0/24')]);
    const again = (await cache.view(LATER))!;
    expect(again.intervals).toBe(first.intervals); // not rebuilt without a change

    state.revision = '11';
    state.handler!.put(subnet('10.80.4.0/24'));
    const afterPut = (await cache.view(LATER))!;
    expect(afterPut.revision).toBe('11');
    expect(text(afterPut)).toEqual([
      interval('10.80.0.0/23'),
      interval('10.80.2.0/24'),
      interval('10.80.4.0/24'),
    ]);
    expect(afterPut.reserved.map((r) => r.pool)).toContain('pool-10.80.4.0/24');

    state.handler!.deleted('10.80.0.0');
    expect(text((await cache.view(LATER))!)).toEqual([
      interval('10.80.2.0/24'),
      interval('10.80.4.0/24'),
    ]);

    state.handler!.reset([subnet('10.90.0.0/16')]);
    expect(text((await cache.view(LATER))!)).toEqual([interval('10.90.0.0/16')]);
  });

  it('builds the same view from a fresh read, leaving out what does not parse', () => {
    const view = toSubnetView({
      subnets: [subnet('10.80.3.0/24'), subnet('not a subnet'), subnet('10.80.1.0/24')],
      revision: '42',
    });
    expect(view.revision).toBe('42');
    expect(view.reserved).toHaveLength(2);
    expect(text(view)).toEqual([interval('10.80.1.0/24'), interval('10.80.3.0/24')]);
  });

  it("lists a stale view with the request's deadline", async () => {
    const { store, state } = fakeStore([subnet('10.80.0.0/24')], { stale: true });
    const cache = new SubnetCache(store);
    await cache.view(4_242);
    await cache.view(5_000);
    expect(state.syncDeadlines).toEqual([4_242]);
  });
});
