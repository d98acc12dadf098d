import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { IKeyValue, Watcher } from 'etcd3';
import { KeyLayout } from './keys.js';
import { PrefixWatch } from './prefix-watch.js';
import type { StoredSubnet } from './records.js';
import { SubnetFeed } from './subnet-feed.js';

/** A deadline no test here reaches. */
const LATER = Date.now() + 600_000;

class FakeWatcher extends EventEmitter {
  cancel(): Promise<void> {
    return Promise.resolve();
  }
}

const PREFIX = '/p/subnets/';

/** A watched subnet key/value as etcd3 hands it over. */
const kv = (network: string, modRevision: string, address?: string): IKeyValue =>
  // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- the fields the feed reads
  ({
    key: Buffer.from(`${PREFIX}${network}`),
    value: Buffer.from(address ? JSON.stringify({ address, pool: `pool-${network}` }) : ''),
    mod_revision: modRevision,
  }) as unknown as IKeyValue;

/** A feed over a fake etcd that lists `listing` (the life cycle: prefix-watch.spec.ts). */
function feedOver(listing: { subnets: StoredSubnet[]; revision: string }) {
  const view = new Map<string, string>();
  const watchers: FakeWatcher[] = [];
  const feed = new SubnetFeed(
    new KeyLayout('/p'),
    {
      reset: (subnets) => {
        view.clear();
        subnets.forEach((s) => view.set(s.network, s.record.address));
      },
      put: (s) => view.set(s.network, s.record.address),
      deleted: (network) => view.delete(network),
    },
    (events) =>
      new PrefixWatch(
        'the subnets',
        {
          list: () => Promise.resolve({ items: [...listing.subnets], revision: listing.revision }),
          watch: () => {
            const watcher = new FakeWatcher();
            watchers.push(watcher);
            // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- on() and cancel() only
            return watcher as unknown as Watcher;
          },
        },
        events,
      ),
  );
  return { feed, view, watchers };
}

const subnet = (network: string, length: number): StoredSubnet => ({
  network,
  record: { address: `${network}/${length}`, pool: `pool-${network}` },
});

describe('SubnetFeed', () => {
  it('should be complete up to the list after its first sync', async () => {
    const { feed, view } = feedOver({ subnets: [subnet('10.80.0.0', 24)], revision: '7' });
    await feed.sync(LATER);
    expect([...view]).toEqual([['10.80.0.0', '10.80.0.0/24']]);
    expect(feed.revision).toBe('7');
  });

  it('should apply puts and deletes and move its revision with every event', async () => {
    const { feed, view, watchers } = feedOver({
      subnets: [subnet('10.80.0.0', 24)],
      revision: '7',
    });
    await feed.sync(LATER);
    const w = watchers[0]!;
    w.emit('put', kv('10.80.1.0', '9', '10.80.1.0/24'));
    expect(feed.revision).toBe('9');
    w.emit('delete', kv('10.80.0.0', '12'));
    expect(feed.revision).toBe('12');
    // A value that is not a subnet record changes nothing in the view, but is seen.
    w.emit('put', kv('10.80.2.0', '13'));
    expect(feed.revision).toBe('13');
    expect([...view]).toEqual([['10.80.1.0', '10.80.1.0/24']]);
  });

  it('should take its revision from the re-list after its watch stopped', async () => {
    const listing = { subnets: [subnet('10.80.0.0', 24)], revision: '7' };
    const { feed, view, watchers } = feedOver(listing);
    await feed.sync(LATER);
    watchers[0]!.emit('put', kv('10.80.1.0', '9', '10.80.1.0/24'));
    watchers[0]!.emit('error', new Error('required revision has been compacted'));
    listing.subnets = [subnet('10.80.2.0', 23)];
    listing.revision = '30';
    await feed.sync(LATER);
    expect(feed.revision).toBe('30');
    expect([...view]).toEqual([['10.80.2.0', '10.80.2.0/23']]);
  });

  describe('caughtUp', () => {
    it.each([
      { name: 'a revision the view holds already', wanted: '7', event: undefined, reached: true },
      { name: 'a revision a later event reaches', wanted: '9', event: '9', reached: true },
      { name: 'a revision an event passes', wanted: '8', event: '10', reached: true },
      { name: 'a revision no event reaches in time', wanted: '9', event: '8', reached: false },
    ])('should answer for $name: $reached', async ({ wanted, event, reached }) => {
      const { feed, watchers } = feedOver({ subnets: [], revision: '7' });
      await feed.sync(LATER);
      const answer = feed.caughtUp(wanted, 30);
      if (event) {
        watchers[0]!.emit('put', kv('10.80.1.0', event, '10.80.1.0/24'));
      }
      expect(await answer).toBe(reached);
    });

    it('should answer false at once when the view goes stale meanwhile, and while it is', async () => {
      const { feed, watchers } = feedOver({ subnets: [], revision: '7' });
      expect(await feed.caughtUp('1', 10_000)).toBe(false);
      await feed.sync(LATER);
      const answer = feed.caughtUp('9', 10_000);
      watchers[0]!.emit('error', new Error('Watcher canceled'));
      expect(await answer).toBe(false);
      expect(await feed.caughtUp('1', 10_000)).toBe(false);
    });
  });
});
