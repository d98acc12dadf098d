import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { IKeyValue, Watcher } from 'etcd3';
import type { StoredSubnet } from './records.js';
import { SubnetFeed } from './subnet-feed.js';

class FakeWatcher extends EventEmitter {
  cancelled = false;
  cancel(): Promise<void> {
    this.cancelled = true;
    return Promise.resolve();
  }
}

const PREFIX = '/p/subnets/';

/** A watched subnet key/value as etcd3 hands it over. */
const kv = (network: string, modRevision: string, address?: string): IKeyValue =>
  ({
    key: Buffer.from(`${PREFIX}${network}`),
    value: Buffer.from(address ? JSON.stringify({ address, pool: `pool-${network}` }) : ''),
    mod_revision: modRevision,
  }) as unknown as IKeyValue;

function feedOver(listing: { subnets: StoredSubnet[]; revision: string }) {
  const view = new Map<string, string>();
  const watchers: { watcher: FakeWatcher; from: string }[] = [];
  let lists = 0;
  const feed = new SubnetFeed(
    {
      reset: (subnets) => {
        view.clear();
        subnets.forEach((s) => view.set(s.network, s.record.address));
      },
      put: (s) => view.set(s.network, s.record.address),
      deleted: (network) => view.delete(network),
    },
    {
      list: () => {
        lists++;
        return Promise.resolve({ subnets: [...listing.subnets], revision: listing.revision });
      },
      watch: (from) => {
        const watcher = new FakeWatcher();
        watchers.push({ watcher, from });
        return watcher as unknown as Watcher;
      },
      decode: (k) => {
        const network = k.key.toString().slice(PREFIX.length);
        const value = k.value.toString();
        return value ? { network, record: JSON.parse(value) as StoredSubnet['record'] } : undefined;
      },
      network: (k) => k.key.toString().slice(PREFIX.length),
    },
    () => undefined,
  );
  return { feed, view, watchers, lists: () => lists };
}

const subnet = (network: string, length: number): StoredSubnet => ({
  network,
  record: { address: `${network}/${length}`, pool: `pool-${network}` },
});

describe('SubnetFeed', () => {
  it('should list, watch from the next revision and be complete up to the list', async () => {
    const { feed, view, watchers } = feedOver({
      subnets: [subnet('10.80.0.0', 24)],
      revision: '7',
    });
    expect(feed.stale).toBe(true);
    await feed.sync();
    expect(feed.stale).toBe(false);
    expect([...view]).toEqual([['10.80.0.0', '10.80.0.0/24']]);
    expect(watchers.map((w) => w.from)).toEqual(['8']);
    expect(feed.revision).toBe('7');
  });

  it('should apply puts and deletes and move its revision with every event', async () => {
    const { feed, view, watchers } = feedOver({
      subnets: [subnet('10.80.0.0', 24)],
      revision: '7',
    });
    await feed.sync();
    const w = watchers[0]!.watcher;
    w.emit('put', kv('10.80.1.0', '9', '10.80.1.0/24'));
    expect(feed.revision).toBe('9');
    w.emit('delete', kv('10.80.0.0', '12'));
    expect(feed.revision).toBe('12');
    expect([...view]).toEqual([['10.80.1.0', '10.80.1.0/24']]);
  });

  it('should turn stale when its watch stops, and ignore the dead watch after a re-list', async () => {
    const listing = { subnets: [subnet('10.80.0.0', 24)], revision: '7' };
    const { feed, view, watchers, lists } = feedOver(listing);
    await feed.sync();
    watchers[0]!.watcher.emit('error', new Error('required revision has been compacted'));
    expect(feed.stale).toBe(true);
    listing.subnets = [subnet('10.80.2.0', 23)];
    listing.revision = '30';
    await feed.sync();
    expect(lists()).toBe(2);
    expect(watchers.map((w) => w.from)).toEqual(['8', '31']);
    expect([...view]).toEqual([['10.80.2.0', '10.80.2.0/23']]);
    watchers[0]!.watcher.emit('put', kv('10.80.9.0', '40', '10.80.9.0/24'));
    expect(view.has('10.80.9.0')).toBe(false);
    expect(feed.revision).toBe('30');
  });

  it('should stop its watch on close', async () => {
    const { feed, watchers } = feedOver({ subnets: [], revision: '1' });
    await feed.sync();
    await feed.close();
    expect(watchers[0]!.watcher.cancelled).toBe(true);
  });
});
