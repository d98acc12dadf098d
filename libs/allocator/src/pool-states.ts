import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ipamConfig, type IpamConfig } from '#app/config';
import { PoolNotFound } from '#app/ipam';
import { Prefix } from '#app/net';
import {
  AllocationStore,
  type Deadline,
  type PoolFeed,
  type PoolIdentity,
  type StoredPool,
} from '#app/store';
import { AddressBatch } from './address-batch.js';
import { PoolState } from './pool-state.js';
import { logReserved } from './reserved-log.js';

/**
 * The PoolStates of the pools this node allocates from, by pool id. An entry belongs to one pool
 * in etcd (its create revision) and is dropped, with its free set and its etcd watches, when that
 * pool is gone:
 *
 * - when this node releases its last reference (`drop`, from PoolAllocator): Docker asks for no
 *   address of a pool it released, and a network created again gets a pool read afresh;
 * - when the watch of `pools/` (PoolFeed) shows the pool deleted or created again: a deletion by
 *   another node (its last release, or the cleanup);
 * - when a transaction or a read finds another pool, or none, under the name (`forget`).
 *
 * Without this, every pool ever used stayed: its free set (2 MiB for a /8) and its watches.
 */
@Injectable()
export class PoolStates implements OnModuleDestroy {
  private readonly states = new Map<string, Promise<PoolState>>();
  private pools?: PoolFeed;

  constructor(
    private readonly store: AllocationStore,
    @Inject(ipamConfig.KEY) private readonly config: IpamConfig,
  ) {}

  async onModuleDestroy(): Promise<void> {
    const all = [...this.states.values()];
    this.states.clear();
    await this.pools?.close();
    for (const state of all) {
      const s = await state.catch(() => undefined);
      await s?.view.close();
    }
  }

  /** How many pools this node keeps a state of (tests and diagnostics). */
  get size(): number {
    return this.states.size;
  }

  /**
   * The state of pool `poolId`, loaded (read, listed, watched) on first use; concurrent callers
   * share one load. Rejects with PoolNotFound when the pool does not exist.
   */
  get(poolId: string, deadline: Deadline): Promise<PoolState> {
    this.watchPools();
    let state = this.states.get(poolId);
    if (!state) {
      state = this.load(poolId, deadline);
      this.states.set(poolId, state);
      const loading = state;
      loading.catch(() => {
        if (this.states.get(poolId) === loading) {
          this.states.delete(poolId);
        }
      });
    }
    return state;
  }

  /** Every pool this node allocates from now (loaded; loads that fail are left out): metrics. */
  async serving(): Promise<PoolState[]> {
    const states = await Promise.all(
      [...this.states.values()].map((s) => s.catch(() => undefined)),
    );
    return states.filter((s) => s !== undefined);
  }

  /** The state of `pool` if this node keeps one (no load): for local hints only. */
  async loaded(pool: StoredPool): Promise<PoolState | undefined> {
    const state = await this.states.get(pool.id)?.catch(() => undefined);
    return state?.pool.createRevision === pool.createRevision ? state : undefined;
  }

  /**
   * Whether `state` is the pool named so in etcd now: read again unless the state's read was sent
   * after `since` (when the request arrived, `performance.now()`), strictly: a read sent in the
   * same instant may have been answered before the request's change. A state that is not the
   * pool now is forgotten.
   */
  async isCurrent(state: PoolState, since: number, deadline: Deadline): Promise<boolean> {
    if (state.readAt > since) {
      return true;
    }
    const now = await this.store.getPool(state.pool.id, deadline);
    if (now?.createRevision === state.pool.createRevision) {
      return true;
    }
    this.forget(state);
    return false;
  }

  /**
   * Drops `state` if it is still its pool's entry. The entry may already be a newer load started
   * by a concurrent call, one that rejects (the pool is gone): its caller handles that, and this
   * check must not turn it into an unhandled rejection.
   */
  forget(state: PoolState): void {
    const id = state.pool.id;
    void this.states.get(id)?.then(
      (current) => {
        if (current === state) {
          this.states.delete(id);
          void state.view.close();
        }
      },
      () => undefined,
    );
  }

  /** Drops the entry of `poolId`, whatever pool it holds: this node has left the pool. */
  drop(poolId: string): void {
    const state = this.states.get(poolId);
    this.states.delete(poolId);
    void state?.then(
      (s) => s.view.close(),
      () => undefined,
    );
  }

  private async load(poolId: string, deadline: Deadline): Promise<PoolState> {
    const readAt = performance.now();
    const pool = await this.store.getPool(poolId, deadline);
    if (!pool || !Prefix.tryParse(pool.record.subnet)) {
      throw new PoolNotFound(poolId);
    }
    const state = new PoolState(pool, this.store, this.config.nodeId, readAt);
    state.batch = new AddressBatch(poolId, state, this.store, (addr, record) =>
      logReserved(poolId, addr, record),
    );
    await state.view.open(deadline);
    return state;
  }

  /**
   * Watches which pools exist, and drops the state of one deleted or created again. Listed in the
   * background: it frees memory, no request waits for it (a stale view is listed again on the
   * next request, and its list drops what went meanwhile).
   */
  private watchPools(): void {
    this.pools ??= this.store.openPoolFeed({
      reset: (pools: PoolIdentity[], revision: bigint) => {
        const created = new Map(pools.map((p) => [p.id, p.createRevision]));
        for (const id of this.states.keys()) {
          this.dropOlderThan(id, created.get(id) ?? revision + 1n);
        }
      },
      created: (pool) => this.dropOlderThan(pool.id, pool.createRevision),
      deleted: (id, revision) => this.dropOlderThan(id, revision),
    });
    if (this.pools.stale) {
      void this.pools.sync(this.store.deadline()).catch(() => undefined);
    }
  }

  /** Forgets the state of `id` if its pool was created before `revision`: that pool is gone. */
  private dropOlderThan(id: string, revision: bigint): void {
    void this.states.get(id)?.then(
      (state) => {
        if (BigInt(state.pool.createRevision) < revision) {
          this.forget(state);
        }
      },
      () => undefined,
    );
  }
}
