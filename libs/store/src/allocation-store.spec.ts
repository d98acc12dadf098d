import { describe, expect, it } from 'vitest';
import { AllocationStore } from './allocation-store.js';
import type { EtcdConnection } from './etcd-connection.js';
import { KeyLayout } from './keys.js';
import type { PrefixListing } from './prefix-watch.js';

/** A connection that records the deadline each paged read got, and the feeds' list functions. */
function fakeConnection() {
  const readDeadlines: number[] = [];
  const lists: ((deadline: number) => Promise<PrefixListing<unknown>>)[] = [];
  const connection = {
    keys: new KeyLayout('/p'),
    deadline: () => Date.now() + 60_000,
    pagedRange: (_prefix: string, deadline: number) => {
      readDeadlines.push(deadline);
      return Promise.resolve({ items: [], revision: '7' });
    },
    prefixWatch: (
      _prefix: string,
      _what: string,
      list: (deadline: number) => Promise<PrefixListing<unknown>>,
    ) => {
      lists.push(list);
      return {};
    },
  };
  // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- the members above only
  return { etcd: connection as unknown as EtcdConnection, readDeadlines, lists };
}

describe('AllocationStore feeds', () => {
  it.each([
    {
      name: 'the address feed',
      open: (store: AllocationStore) =>
        store.openAddressFeed('blue', { reset: () => {}, added: () => {}, removed: () => {} }),
    },
    {
      name: 'the subnet feed',
      open: (store: AllocationStore) =>
        store.openSubnetFeed({ reset: () => {}, put: () => {}, deleted: () => {} }),
    },
    {
      name: 'the pool feed',
      open: (store: AllocationStore) =>
        store.openPoolFeed({ reset: () => {}, created: () => {}, deleted: () => {} }),
    },
  ])('$name should list with the deadline of the request that syncs it', async ({ open }) => {
    const { etcd, readDeadlines, lists } = fakeConnection();
    open(new AllocationStore(etcd));
    await lists[0]!(4_242);
    expect(readDeadlines).toEqual([4_242]);
  });
});
