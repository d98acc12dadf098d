import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { IKeyValue, Watcher } from 'etcd3';
import { AddressFeed } from './address-feed.js';
import { KeyLayout } from './keys.js';
import { PrefixWatch } from './prefix-watch.js';

/** A deadline no test here reaches. */
const LATER = Date.now() + 600_000;

class FakeWatcher extends EventEmitter {
  cancel(): Promise<void> {
    return Promise.resolve();
  }
}

/** A feed of pool `blue` over a fake etcd listing `ips` (its life cycle: prefix-watch.spec.ts). */
function feedOver(ips: string[]) {
  const seen = new Set<string>();
  const watchers: FakeWatcher[] = [];
  const feed = new AddressFeed(
    new KeyLayout('/p'),
    'blue',
    {
      reset: (listed) => {
        seen.clear();
        listed.forEach((ip) => seen.add(ip));
      },
      added: (ip) => seen.add(ip),
      removed: (ip) => seen.delete(ip),
    },
    (events) =>
      new PrefixWatch(
        'pool blue',
        {
          list: () => Promise.resolve({ items: [...ips], revision: '7' }),
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
  return { feed, seen, watchers };
}

// oxlint-disable-next-line typescript/no-unsafe-type-assertion -- the feed reads the key only
const kv = (key: string) => ({ key: Buffer.from(key) }) as IKeyValue;

describe('AddressFeed', () => {
  it('should reset to the listed IPs and be current after its first sync', async () => {
    const { feed, seen } = feedOver(['10.0.0.1']);
    expect(feed.stale).toBe(true);
    await feed.sync(LATER);
    expect(feed.stale).toBe(false);
    expect([...seen]).toEqual(['10.0.0.1']);
  });

  it.each([
    { name: 'an address of its pool', key: '/p/addresses/blue/10.0.0.9', counts: true },
    { name: 'an address of another pool', key: '/p/addresses/blue2/10.0.0.9', counts: false },
    { name: 'a key below an address', key: '/p/addresses/blue/10.0.0.9/x', counts: false },
    { name: 'the pool directory itself', key: '/p/addresses/blue/', counts: false },
    { name: 'another prefix', key: '/q/addresses/blue/10.0.0.9', counts: false },
  ])('should take a put and a delete of $name: $counts', async ({ key, counts }) => {
    const { feed, seen, watchers } = feedOver([]);
    await feed.sync(LATER);
    watchers[0]!.emit('put', kv(key));
    expect(seen.has('10.0.0.9')).toBe(counts);
    seen.add('10.0.0.9');
    watchers[0]!.emit('delete', kv(key));
    expect(seen.has('10.0.0.9')).toBe(!counts);
  });
});
