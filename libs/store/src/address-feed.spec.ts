import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Watcher } from 'etcd3';
import { AddressFeed } from './address-feed.js';

class FakeWatcher extends EventEmitter {
  cancelled = false;
  cancel(): Promise<void> {
    this.cancelled = true;
    return Promise.resolve();
  }
}

/** A feed over a fake source: what etcd would list, and the watchers the feed started. */
function feedOver(listing: { ips: string[]; revision: string }) {
  const seen = new Set<string>();
  const watchers: { watcher: FakeWatcher; from: string }[] = [];
  let lists = 0;
  const feed = new AddressFeed(
    '/p/addresses/pool/',
    {
      reset: (ips) => {
        seen.clear();
        ips.forEach((ip) => seen.add(ip));
      },
      added: (ip) => seen.add(ip),
      removed: (ip) => seen.delete(ip),
    },
    {
      list: () => {
        lists++;
        return Promise.resolve({ ips: [...listing.ips], revision: listing.revision });
      },
      watch: (_prefix, from) => {
        const watcher = new FakeWatcher();
        watchers.push({ watcher, from });
        // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- the feed uses on() and cancel() only
        return watcher as unknown as Watcher;
      },
    },
    () => undefined,
  );
  return { feed, seen, watchers, lists: () => lists };
}

const kv = (ip: string) => ({ key: Buffer.from(`/p/addresses/pool/${ip}`) });

describe('AddressFeed', () => {
  it('should list, then watch from the revision after the list', async () => {
    const { feed, seen, watchers } = feedOver({ ips: ['10.0.0.1'], revision: '41' });
    expect(feed.stale).toBe(true);
    await feed.sync();
    expect(feed.stale).toBe(false);
    expect([...seen]).toEqual(['10.0.0.1']);
    expect(watchers.map((w) => w.from)).toEqual(['42']);
  });

  it('should apply puts and deletes of the watched prefix only', async () => {
    const { feed, seen, watchers } = feedOver({ ips: [], revision: '1' });
    await feed.sync();
    const w = watchers[0]!.watcher;
    w.emit('put', kv('10.0.0.5'));
    w.emit('put', kv('10.0.0.6'));
    w.emit('delete', kv('10.0.0.5'));
    w.emit('put', { key: Buffer.from('/p/addresses/other/10.0.0.9') });
    expect([...seen]).toEqual(['10.0.0.6']);
  });

  it('should turn stale when its watch is cancelled (compaction) and re-list on the next sync', async () => {
    const listing = { ips: ['10.0.0.1'], revision: '10' };
    const { feed, seen, watchers, lists } = feedOver(listing);
    await feed.sync();
    watchers[0]!.watcher.emit(
      'error',
      new Error('etcdserver: mvcc: required revision has been compacted'),
    );
    expect(feed.stale).toBe(true);
    // Meanwhile etcd changed in ways the dead watch never reported.
    listing.ips = ['10.0.0.2', '10.0.0.3'];
    listing.revision = '20';
    await feed.sync();
    expect(lists()).toBe(2);
    expect(feed.stale).toBe(false);
    expect([...seen].sort()).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(watchers.map((w) => w.from)).toEqual(['11', '21']);
    // Late events of the dead watcher no longer count.
    watchers[0]!.watcher.emit('put', kv('10.0.0.99'));
    expect(seen.has('10.0.0.99')).toBe(false);
  });

  it('should share one re-list between concurrent callers and cancel the old watch', async () => {
    const { feed, watchers, lists } = feedOver({ ips: [], revision: '5' });
    await feed.sync();
    await Promise.all([feed.sync(), feed.sync(), feed.sync()]);
    expect(lists()).toBe(2);
    expect(watchers[0]!.watcher.cancelled).toBe(true);
  });

  it('should stop its watch on close', async () => {
    const { feed, watchers } = feedOver({ ips: [], revision: '5' });
    await feed.sync();
    await feed.close();
    expect(watchers[0]!.watcher.cancelled).toBe(true);
  });
});
