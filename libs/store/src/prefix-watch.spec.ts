import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { IKeyValue, Watcher } from 'etcd3';
import { StoreUnavailable } from './errors.js';
import { PrefixWatch, type PrefixListing } from './prefix-watch.js';

/** A deadline no test here reaches. */
const LATER = Date.now() + 600_000;

/** etcd3's Watcher as far as PrefixWatch uses it: events, and cancel(). */
class FakeWatcher extends EventEmitter {
  cancelled = false;
  constructor(private readonly cancelSettles = true) {
    super();
  }
  cancel(): Promise<void> {
    this.cancelled = true;
    return this.cancelSettles ? Promise.resolve() : new Promise<void>(() => undefined);
  }
}

const kv = (key: string, modRevision = '1'): IKeyValue =>
  // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- the watch reads key only
  ({ key: Buffer.from(key), value: Buffer.alloc(0), mod_revision: modRevision }) as IKeyValue;

/**
 * A PrefixWatch over a fake source: `listing` is what etcd would list now; the view records what
 * the handler was told; `watchers` are the watches started, with their start revisions.
 */
function watchOver(
  listing: PrefixListing<string[]>,
  opts: {
    cancelSettles?: boolean;
    list?: (deadline: number) => Promise<PrefixListing<string[]>>;
    expired?: () => Error;
  } = {},
) {
  const view = { keys: new Set<string>(), revision: -1n, staleCalls: 0 };
  const watchers: { watcher: FakeWatcher; from: string }[] = [];
  let lists = 0;
  let closed = 0;
  const watch = new PrefixWatch<string[]>(
    'the test keys',
    {
      list: (deadline) => {
        lists++;
        return (
          opts.list?.(deadline) ??
          Promise.resolve({ items: [...listing.items], revision: listing.revision })
        );
      },
      ...(opts.expired ? { expired: opts.expired } : {}),
      watch: (from) => {
        const watcher = new FakeWatcher(opts.cancelSettles ?? true);
        watchers.push({ watcher, from });
        // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- on() and cancel() only
        return watcher as unknown as Watcher;
      },
    },
    {
      reset: (items, revision) => {
        view.keys = new Set(items);
        view.revision = revision;
      },
      put: (k) => view.keys.add(k.key.toString()),
      delete: (k) => view.keys.delete(k.key.toString()),
      stale: () => {
        view.staleCalls++;
      },
    },
    () => {
      closed++;
    },
    50,
  );
  return { watch, view, watchers, lists: () => lists, closed: () => closed };
}

describe('PrefixWatch', () => {
  it('should list, then watch from the revision after the list', async () => {
    const { watch, view, watchers } = watchOver({ items: ['a'], revision: '41' });
    expect(watch.stale).toBe(true);
    await watch.sync(LATER);
    expect(watch.stale).toBe(false);
    expect([...view.keys]).toEqual(['a']);
    expect(view.revision).toBe(41n);
    expect(watchers.map((w) => w.from)).toEqual(['42']);
  });

  it('should hand puts and deletes of its watcher to the handler', async () => {
    const { watch, view, watchers } = watchOver({ items: [], revision: '1' });
    await watch.sync(LATER);
    const w = watchers[0]!.watcher;
    w.emit('put', kv('b'));
    w.emit('put', kv('c'));
    w.emit('delete', kv('b'));
    expect([...view.keys]).toEqual(['c']);
  });

  it.each([
    {
      name: 'a compacted revision',
      event: 'error',
      arg: new Error('etcdserver: mvcc: required revision has been compacted'),
      cancels: false, // etcd ended the watch itself
    },
    {
      name: 'a cancelled watch',
      event: 'error',
      arg: new Error('Watcher canceled: '),
      cancels: false,
    },
    {
      // etcd3 would resume it after the "created" reply's revision, past changes sent after it
      name: 'a dropped stream',
      event: 'disconnected',
      arg: new Error('14 UNAVAILABLE: Connection dropped'),
      cancels: true,
    },
  ])('should turn stale on $name, and re-list on the next sync', async (row) => {
    const listing = { items: ['a'], revision: '10' };
    const { watch, view, watchers, lists } = watchOver(listing);
    await watch.sync(LATER);
    watchers[0]!.watcher.emit(row.event, row.arg);
    expect(watch.stale).toBe(true);
    expect(view.staleCalls).toBe(1);
    expect(watchers[0]!.watcher.cancelled).toBe(row.cancels);
    // Meanwhile etcd changed in ways the stopped watch never reported.
    listing.items = ['x', 'y'];
    listing.revision = '20';
    await watch.sync(LATER);
    expect(lists()).toBe(2);
    expect(watch.stale).toBe(false);
    expect([...view.keys].sort()).toEqual(['x', 'y']);
    expect(watchers.map((w) => w.from)).toEqual(['11', '21']);
  });

  it('should ignore late events and errors of a watcher it replaced', async () => {
    const { watch, view, watchers } = watchOver({ items: [], revision: '5' });
    await watch.sync(LATER);
    await watch.sync(LATER);
    const old = watchers[0]!.watcher;
    expect(old.cancelled).toBe(true);
    old.emit('put', kv('late'));
    old.emit('disconnected', new Error('14 UNAVAILABLE'));
    old.emit('error', new Error('Watcher canceled'));
    expect(view.keys.has('late')).toBe(false);
    expect(watch.stale).toBe(false);
    expect(view.staleCalls).toBe(0);
  });

  it('should share one re-list between concurrent callers', async () => {
    const { watch, watchers, lists } = watchOver({ items: [], revision: '5' });
    await Promise.all([watch.sync(LATER), watch.sync(LATER), watch.sync(LATER)]);
    expect(lists()).toBe(1);
    expect(watchers).toHaveLength(1);
  });

  it('should list with the deadline of the caller that started the re-list', async () => {
    const deadlines: number[] = [];
    const { watch } = watchOver(
      { items: [], revision: '5' },
      {
        list: (deadline) => {
          deadlines.push(deadline);
          return Promise.resolve({ items: [], revision: '5' });
        },
      },
    );
    const deadline = Date.now() + 1_234;
    await Promise.all([watch.sync(deadline), watch.sync(deadline + 10_000)]);
    expect(deadlines).toEqual([deadline]);
  });

  it('should let each caller of a shared re-list wait no longer than its own deadline', async () => {
    let release: (() => void) | undefined;
    const { watch, lists } = watchOver(
      { items: [], revision: '5' },
      {
        list: () =>
          new Promise((resolve) => {
            release = () => resolve({ items: ['k'], revision: '5' });
          }),
      },
    );
    const patient = watch.sync(LATER);
    const started = performance.now();
    const hurried = await watch.sync(Date.now() + 50).catch((e: unknown) => e);
    expect(hurried).toBeInstanceOf(StoreUnavailable);
    expect((hurried as Error).message).toBe(
      "gave up on listing the test keys: etcd did not answer before the request's deadline (ETCD_WAIT_TIMEOUT)",
    );
    expect(performance.now() - started).toBeLessThan(1_000);
    release?.();
    await patient;
    expect(watch.stale).toBe(false);
    expect(lists()).toBe(1);
  });

  it('should list again for a caller whose deadline outlasts the shared re-list that gave up', async () => {
    const deadlines: number[] = [];
    const { watch, lists } = watchOver(
      { items: [], revision: '5' },
      {
        // etcd down until the first list gives up at its deadline; up for the next one
        list: (deadline) => {
          deadlines.push(deadline);
          return deadlines.length === 1
            ? new Promise((_, reject) =>
                setTimeout(
                  () => reject(new StoreUnavailable('etcd is unreachable (gave up)')),
                  Math.max(0, deadline - Date.now()),
                ),
              )
            : Promise.resolve({ items: ['k'], revision: '7' });
        },
      },
    );
    const early = Date.now() + 30;
    const first = watch.sync(early).catch((e: unknown) => e);
    const second = watch.sync(LATER);
    expect(await first).toBeInstanceOf(StoreUnavailable);
    await second;
    expect(deadlines).toEqual([early, LATER]);
    expect(lists()).toBe(2);
    expect(watch.stale).toBe(false);
  });

  it("should let a hurried caller go with its source's sentence for an expired wait", async () => {
    const said = new StoreUnavailable(
      'etcd is unreachable at http://etcd-1:2379: … (gave up after waiting 1 s)',
    );
    const { watch } = watchOver(
      { items: [], revision: '5' },
      { list: () => new Promise(() => undefined), expired: () => said },
    );
    await expect(watch.sync(Date.now() + 20)).rejects.toBe(said);
  });

  it('should stay stale after a failed list, and list again on the next sync', async () => {
    let fail = true;
    const { watch, watchers, lists } = watchOver(
      { items: [], revision: '5' },
      {
        list: () =>
          fail
            ? Promise.reject(new Error('etcd is unreachable'))
            : Promise.resolve({ items: [], revision: '9' }),
      },
    );
    await expect(watch.sync(LATER)).rejects.toThrow('etcd is unreachable');
    expect(watch.stale).toBe(true);
    expect(watchers).toHaveLength(0);
    fail = false;
    await watch.sync(LATER);
    expect(lists()).toBe(2);
    expect(watchers.map((w) => w.from)).toEqual(['10']);
  });

  it('should stop its watch on close, and neither list nor watch afterwards', async () => {
    const { watch, watchers, lists, closed } = watchOver({ items: [], revision: '5' });
    await watch.sync(LATER);
    await watch.close();
    expect(watchers[0]!.watcher.cancelled).toBe(true);
    expect(closed()).toBe(1);
    await watch.sync(LATER);
    expect(lists()).toBe(1);
    expect(watchers).toHaveLength(1);
  });

  it('should start no watch when closed while listing', async () => {
    let release: (() => void) | undefined;
    const { watch, watchers } = watchOver(
      { items: [], revision: '5' },
      {
        list: () =>
          new Promise((resolve) => {
            release = () => resolve({ items: [], revision: '5' });
          }),
      },
    );
    const syncing = watch.sync(LATER);
    await Promise.resolve();
    await watch.close();
    release?.();
    await syncing;
    expect(watchers).toHaveLength(0);
  });

  it('should not wait past its bound for a cancel that never settles', async () => {
    const { watch } = watchOver({ items: [], revision: '5' }, { cancelSettles: false });
    await watch.sync(LATER);
    const started = performance.now();
    await watch.sync(LATER);
    await watch.close();
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
