import { createHash } from 'node:crypto';
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
import { Addr, Prefix, parseIPv4Number } from '#app/net';
import {
  AllocationStore,
  newNonce,
  type AddressFeed,
  type AddressRecord,
  type Deadline,
  type StoredPool,
} from '#app/store';
import { AddressBatch } from './address-batch.js';
import { FreeSet } from './free-set.js';
import { checkDeadline } from './pool-allocator.js';

/**
 * What this node knows about one pool it allocates from: the pool (and the create revision the
 * transactions compare), and a free set of its allocation range kept fresh by an etcd watch.
 * The free set is only a hint for choosing candidates; the transaction decides.
 */
class PoolState {
  readonly subnet: Prefix;
  readonly range: Prefix;
  /** Index 0 of the free set is this address. */
  readonly base: bigint;
  readonly free: FreeSet;
  cursor: number;
  feed?: AddressFeed;
  /** Dynamic allocations of this pool that arrive together share one transaction. */
  batch: AddressBatch;

  constructor(
    readonly pool: StoredPool,
    nodeId: string,
  ) {
    this.subnet = Prefix.parse(pool.record.subnet);
    this.range = pool.record.iprange ? Prefix.parse(pool.record.iprange) : this.subnet;
    this.base = this.range.network().value;
    this.free = new FreeSet(Number(this.range.size()));
    // Never hand out the subnet's network and broadcast addresses, whatever the range.
    for (const a of [this.subnet.network(), this.subnet.broadcast()]) {
      this.reserveLocally(a.value);
    }
    // Each node starts at its own offset so that nodes rarely race for the same address.
    const digest = createHash('sha256').update(nodeId).digest();
    this.cursor = this.free.size > 0 ? digest.readUInt32BE(0) % this.free.size : 0;
  }

  indexOf(value: bigint): number | undefined {
    const i = value - this.base;
    return i >= 0n && i < BigInt(this.free.size) ? Number(i) : undefined;
  }

  reserveLocally(value: bigint): void {
    const i = this.indexOf(value);
    if (i !== undefined) {
      this.free.take(i);
    }
  }

  releaseLocally(value: bigint): void {
    if (value === this.subnet.network().value || value === this.subnet.broadcast().value) {
      return;
    }
    const i = this.indexOf(value);
    if (i !== undefined) {
      this.free.release(i);
    }
  }

  resetTo(ips: string[]): void {
    this.free.clear();
    this.reserveLocally(this.subnet.network().value);
    this.reserveLocally(this.subnet.broadcast().value);
    // A pool's whole list at once (100,000 keys and more): plain numbers, not an Addr each.
    const base = Number(this.base);
    for (const ip of ips) {
      const n = parseIPv4Number(ip);
      if (n !== undefined) {
        this.free.take(n - base); // out of range: ignored by take()
      }
    }
  }

  /** Takes the next free candidate after the cursor in the local view, or undefined. */
  nextCandidate(): Addr | undefined {
    const i = this.free.nextFree(this.cursor);
    if (i < 0) {
      return undefined;
    }
    this.free.take(i);
    this.cursor = (i + 1) % this.free.size;
    return Addr.fromBigInt(4, this.base + BigInt(i));
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
      await s?.feed?.close();
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
    const deadline = this.store.deadline();
    const pool = await this.store.getPool(req.poolId, deadline);
    if (!pool) {
      this.log.warn(
        `ReleaseAddress of ${addr.toString()} in unknown pool ${req.poolId}: nothing to do`,
      );
      return;
    }
    const subnet = Prefix.parse(pool.record.subnet);
    if (!subnet.contains(addr)) {
      throw new AddressOutOfRange(
        `address ${addr.toString()} is outside pool ${req.poolId}'s subnet ${subnet.toString()}`,
      );
    }
    const ip = addr.toString();
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.store.getAddress(req.poolId, ip, deadline);
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
    const state = new PoolState(pool, this.config.nodeId);
    state.batch = new AddressBatch(poolId, state, this.store, (addr, record) =>
      this.logReserved(poolId, addr, record),
    );
    state.feed = this.store.openAddressFeed(poolId, {
      reset: (ips) => state.resetTo(ips),
      added: (ip) => {
        const a = Addr.tryParse(ip);
        if (a) {
          state.reserveLocally(a.value);
        }
      },
      removed: (ip) => {
        const a = Addr.tryParse(ip);
        if (a) {
          state.releaseLocally(a.value);
        }
      },
    });
    await state.feed.sync();
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
          void state.feed?.close();
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
