import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ipamConfig, type IpamConfig } from '#app/config';
import {
  AddressInUse,
  AddressOutOfRange,
  InvalidRequest,
  PoolNotFound,
  type AddressReply,
  type AddressRequest,
  type ReleaseAddressRequest,
} from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import {
  AllocationStore,
  newNonce,
  type AddressRecord,
  type Deadline,
  type StoredPool,
} from '#app/store';
import { AddressBatch, type BatchPool } from './address-batch.js';
import { checkDeadline } from './pool-allocator.js';
import { PoolView, type Widened } from './pool-view.js';

/**
 * What this node knows about one pool it allocates from: the pool (and the create revision the
 * transactions compare), and its view of the allocated addresses (PoolView), kept fresh by
 * etcd watches. The view is only a hint for choosing candidates; the transaction decides.
 */
class PoolState implements BatchPool {
  readonly subnet: Prefix;
  readonly view: PoolView;
  /** Dynamic allocations of this pool that arrive together share one transaction. */
  batch: AddressBatch;

  constructor(
    readonly pool: StoredPool,
    store: AllocationStore,
    nodeId: string,
  ) {
    this.subnet = Prefix.parse(pool.record.subnet);
    const range = pool.record.iprange ? Prefix.parse(pool.record.iprange) : this.subnet;
    this.view = new PoolView(store, pool.id, this.subnet, range, nodeId);
  }

  get stale(): boolean {
    return this.view.stale;
  }

  sync(): Promise<void> {
    return this.view.sync();
  }

  widen(): Promise<Widened> {
    return this.view.widen();
  }

  nextCandidate(): Addr | undefined {
    return this.view.nextCandidate();
  }

  reserveLocally(value: bigint): void {
    this.view.reserveLocally(value);
  }

  releaseLocally(value: bigint): void {
    this.view.releaseLocally(value);
  }
}

/**
 * Address policy (README, "Addresses"): dynamic addresses from SubPool or the subnet, never the network,
 * broadcast or a gateway address; static addresses once; releases only of this node's addresses.
 */
@Injectable()
export class AddressAllocator implements OnModuleDestroy {
  private readonly log = new Logger('AddressAllocator');
  private readonly pools = new Map<string, Promise<PoolState>>();

  constructor(
    private readonly store: AllocationStore,
    @Inject(ipamConfig.KEY) private readonly config: IpamConfig,
  ) {}

  async onModuleDestroy(): Promise<void> {
    for (const state of this.pools.values()) {
      const s = await state.catch(() => undefined);
      await s?.view.close();
    }
    this.pools.clear();
  }

  async requestAddress(req: AddressRequest): Promise<AddressReply> {
    const wanted = req.address;
    const isGateway = req.gateway;
    const deadline = this.store.deadline();
    const nonce = newNonce();
    const record: AddressRecord = {
      address: '',
      node: this.config.nodeId,
      type: isGateway ? 'gateway' : 'endpoint',
      ...(req.endpointName ? { name: req.endpointName } : {}),
    };

    for (;;) {
      checkDeadline(deadline, `an address in pool ${req.poolId}`);
      const state = await this.poolState(req.poolId, deadline);
      const gatewayIp = state.pool.record.gateway.split('/')[0];
      if (wanted) {
        checkInside(state, wanted, req.poolId);
        if (isGateway && wanted.toString() === gatewayIp) {
          // The pool's own gateway: Docker asks for it when --gateway names the first host.
          return { address: `${gatewayIp}/${state.subnet.length}`, data: {} };
        }
        const result = await this.store.reserveAddress(
          state.pool,
          wanted.toString(),
          { ...record, address: `${wanted.toString()}/${state.subnet.length}` },
          nonce,
          deadline,
        );
        if (result.kind === 'reserved') {
          state.reserveLocally(wanted.value);
          this.logReserved(req.poolId, wanted, record);
          return { address: `${wanted.toString()}/${state.subnet.length}`, data: {} };
        }
        if (result.kind === 'taken') {
          state.reserveLocally(wanted.value);
          if (isGateway && result.existing.record.type === 'gateway') {
            return { address: `${wanted.toString()}/${state.subnet.length}`, data: {} };
          }
          throw new AddressInUse(wanted.toString(), req.poolId);
        }
        this.forget(req.poolId, state);
        continue;
      }

      if (isGateway && gatewayIp) {
        // Docker asks for "any" gateway only when RequestPool returned none; ours always has one.
        return { address: `${gatewayIp}/${state.subnet.length}`, data: {} };
      }
      const reply = await this.allocateDynamic(state, record, nonce, deadline);
      if (reply) {
        return reply;
      }
      // The pool was deleted or re-created under us: read it again.
      this.forget(req.poolId, state);
    }
  }

  async releaseAddress(req: ReleaseAddressRequest): Promise<void> {
    const addr = req.address;
    const ip = addr.toString();
    const deadline = this.store.deadline();
    for (let attempt = 0; attempt < 5; attempt++) {
      // Pool and address in one read: a release is one read and one delete.
      const { pool, address: current } = await this.store.getPoolAndAddress(
        req.poolId,
        ip,
        deadline,
      );
      if (!pool) {
        this.log.warn(`ReleaseAddress of ${ip} in unknown pool ${req.poolId}: nothing to do`);
        return;
      }
      const subnet = Prefix.parse(pool.record.subnet);
      if (!subnet.contains(addr)) {
        throw new AddressOutOfRange(
          `address ${ip} is outside pool ${req.poolId}'s subnet ${subnet.toString()}`,
        );
      }
      if (!current) {
        this.log.debug(
          `ReleaseAddress of ${ip} in pool ${req.poolId}: not allocated, nothing to do`,
        );
        return;
      }
      if (current.record.node !== this.config.nodeId) {
        this.log.warn(
          `ReleaseAddress of ${ip} in pool ${req.poolId} ignored: it belongs to node ${current.record.node}, not ${this.config.nodeId} (a stale release)`,
        );
        return;
      }
      if (current.record.type === 'gateway' || pool.record.gateway.split('/')[0] === ip) {
        this.log.debug(
          `ReleaseAddress of gateway ${ip} in pool ${req.poolId}: kept while the pool lives`,
        );
        return;
      }
      if ((await this.store.deleteAddress(req.poolId, current, deadline)) === 'deleted') {
        this.log.log(`released address ${ip} in pool ${req.poolId} on node ${this.config.nodeId}`);
        const state = await this.pools.get(req.poolId)?.catch(() => undefined);
        state?.releaseLocally(addr.value);
        return;
      }
    }
    this.log.warn(`ReleaseAddress of ${ip} in pool ${req.poolId}: it kept changing; left as it is`);
  }

  private async allocateDynamic(
    state: PoolState,
    record: AddressRecord,
    nonce: string,
    deadline: Deadline,
  ): Promise<AddressReply | undefined> {
    // Candidates, the "full" re-list, exhaustion and conflicts are handled per request inside
    // the pool's batch (address-batch.ts); undefined means the pool is gone.
    const addr = await state.batch.allocate(record, nonce, deadline);
    return addr && { address: `${addr.toString()}/${state.subnet.length}`, data: {} };
  }

  private logReserved(poolId: string, addr: Addr, record: AddressRecord): void {
    this.log.log(
      `allocated ${record.type === 'gateway' ? 'gateway ' : ''}address ${addr.toString()} in pool ${poolId} to node ${record.node}${record.name ? ` (endpoint ${record.name})` : ''}`,
    );
  }

  private poolState(poolId: string, deadline: Deadline): Promise<PoolState> {
    let state = this.pools.get(poolId);
    if (!state) {
      state = this.loadPool(poolId, deadline);
      this.pools.set(poolId, state);
      state.catch(() => this.pools.delete(poolId));
    }
    return state;
  }

  private async loadPool(poolId: string, deadline: Deadline): Promise<PoolState> {
    const pool = await this.store.getPool(poolId, deadline);
    if (!pool || !Prefix.tryParse(pool.record.subnet)) {
      throw new PoolNotFound(poolId);
    }
    const state = new PoolState(pool, this.store, this.config.nodeId);
    state.batch = new AddressBatch(poolId, state, this.store, (addr, record) =>
      this.logReserved(poolId, addr, record),
    );
    await state.view.open();
    return state;
  }

  /**
   * Drops `state` from the cache if it is still the pool's entry. The entry may already be a
   * newer load started by a concurrent call, one that rejects (the pool is gone): its caller
   * handles that, and this check must not turn it into an unhandled rejection.
   */
  private forget(poolId: string, state: PoolState): void {
    void this.pools.get(poolId)?.then(
      (current) => {
        if (current === state) {
          this.pools.delete(poolId);
          void state.view.close();
        }
      },
      () => undefined,
    );
  }
}

function checkInside(state: PoolState, addr: Addr, poolId: string): void {
  if (!state.subnet.contains(addr)) {
    throw new AddressOutOfRange(
      `address ${addr.toString()} is outside pool ${poolId}'s subnet ${state.subnet.toString()}`,
    );
  }
  if (addr.equals(state.subnet.network()) || addr.equals(state.subnet.broadcast())) {
    const what = addr.equals(state.subnet.network()) ? 'network' : 'broadcast';
    throw new InvalidRequest(
      `address ${addr.toString()} is the ${what} address of pool ${poolId}'s subnet ${state.subnet.toString()}`,
    );
  }
}
