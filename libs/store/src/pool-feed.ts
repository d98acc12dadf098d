import type { IKeyValue } from 'etcd3';
import type { Deadline } from './etcd-connection.js';
import type { KeyLayout } from './keys.js';
import type { OpenPrefixWatch, PrefixWatch } from './prefix-watch.js';

/** Which pool a name holds: its id and the revision that created it (what transactions compare). */
export interface PoolIdentity {
  id: string;
  createRevision: bigint;
}

export interface PoolFeedHandler {
  /** Every pool, after the first list and after every re-list, and the list's revision. */
  reset(pools: PoolIdentity[], revision: bigint): void;
  /** A pool was created (its key written, at its create revision). */
  created(pool: PoolIdentity): void;
  /** Pool `id` was deleted at `revision`. */
  deleted(id: string, revision: bigint): void;
}

/**
 * A live view of which pools exist: the `pools/` keys (PrefixWatch), without their values. What
 * a node keeps of a pool it allocates from is dropped when this view says that pool is gone
 * (libs/allocator/src/pool-states.ts). Only a hint: the transactions compare the pool's create
 * revision whatever this view says.
 */
export class PoolFeed {
  private readonly watch: PrefixWatch<PoolIdentity[]>;

  constructor(keys: KeyLayout, handler: PoolFeedHandler, open: OpenPrefixWatch<PoolIdentity[]>) {
    const idOf = (kv: IKeyValue): string | undefined => {
      const key = keys.parse(kv.key.toString());
      return key.kind === 'pool' ? key.id : undefined;
    };
    this.watch = open({
      reset: (pools, revision) => handler.reset(pools, revision),
      put: (kv) => {
        const id = idOf(kv);
        if (id !== undefined) {
          handler.created({ id, createRevision: BigInt(kv.create_revision) });
        }
      },
      delete: (kv) => {
        const id = idOf(kv);
        if (id !== undefined) {
          handler.deleted(id, BigInt(kv.mod_revision));
        }
      },
      stale: () => undefined,
    });
  }

  /** true until the first list, and while a re-list is pending */
  get stale(): boolean {
    return this.watch.stale;
  }

  /** Lists and (re)starts the watch, waiting for etcd until `deadline`. */
  sync(deadline: Deadline): Promise<void> {
    return this.watch.sync(deadline);
  }

  close(): Promise<void> {
    return this.watch.close();
  }
}
