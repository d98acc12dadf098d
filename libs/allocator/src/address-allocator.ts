import { Inject, Injectable, Logger } from '@nestjs/common';
import { ipamConfig, type IpamConfig } from '#app/config';
import {
  AddressInUse,
  AddressOutOfRange,
  InvalidRequest,
  PoolExhausted,
  type AddressReply,
  type AddressRequest,
  type IpamError,
  type ReleaseAddressRequest,
} from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import { AllocationStore, newNonce, type AddressRecord, type Deadline } from '#app/store';
import { grantsHeld, keptOnRelease, requestedKind } from './address-kind.js';
import { checkDeadline } from './deadline.js';
import { shownName, unstorableEndpointName } from './endpoint-name.js';
import type { PoolState } from './pool-state.js';
import { PoolStates } from './pool-states.js';
import { logReserved } from './reserved-log.js';

/** What a claim of one address came to. */
type Claim =
  | { kind: 'granted'; reply: AddressReply }
  | { kind: 'taken'; holder: AddressRecord }
  | { kind: 'pool-gone' };

/** One RequestAddress in progress. */
interface AddressCall {
  req: AddressRequest;
  /** The record to write, without its address. */
  record: AddressRecord;
  nonce: string;
  /** When the request arrived (`performance.now()`): what was read after needs no second read. */
  arrived: number;
  deadline: Deadline;
}

/**
 * Address policy (README, "Addresses"): dynamic addresses from SubPool or the subnet, never the
 * network, broadcast or a gateway address; static addresses once, except the network's own
 * (gateway and aux addresses, granted to every node that asks) and a request repeated for the
 * same MAC (address-kind.ts); releases only of this node's endpoint addresses. Every answer is decided on the pool that exists in etcd when it is given: by a
 * transaction that compares the pool's create revision, or, for an answer without one (a 400,
 * the pool's own gateway, an exhausted pool), by reading the pool again when its state was read
 * before the request arrived.
 */
@Injectable()
export class AddressAllocator {
  private readonly log = new Logger('AddressAllocator');

  constructor(
    private readonly store: AllocationStore,
    private readonly states: PoolStates,
    @Inject(ipamConfig.KEY) private readonly config: IpamConfig,
  ) {}

  async requestAddress(req: AddressRequest): Promise<AddressReply> {
    const call: AddressCall = {
      req,
      record: {
        address: '',
        node: this.config.nodeId,
        type: requestedKind(req),
        ...this.storedName(req),
        ...(req.mac !== undefined ? { mac: req.mac } : {}),
      },
      nonce: newNonce(),
      arrived: performance.now(),
      deadline: this.store.deadline(),
    };
    for (;;) {
      checkDeadline(call.deadline, `an address in pool ${req.poolId}`);
      const state = await this.states.get(req.poolId, call.deadline);
      const reply = await this.answer(state, call);
      if (reply) {
        return reply;
      }
      // `state` was another pool than the one of that name now (or none): read it again.
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
      const kept = keptOnRelease(current.record);
      if (kept !== undefined) {
        this.log.debug(`ReleaseAddress of ${ip} in pool ${req.poolId}: ${kept}`);
        return;
      }
      if (current.record.node !== this.config.nodeId) {
        this.log.warn(
          `ReleaseAddress of ${ip} in pool ${req.poolId} ignored: it belongs to node ${current.record.node}, not ${this.config.nodeId} (a stale release)`,
        );
        return;
      }
      if (pool.record.gateway.split('/')[0] === ip) {
        this.log.debug(
          `ReleaseAddress of gateway ${ip} in pool ${req.poolId}: kept while the pool lives`,
        );
        return;
      }
      if ((await this.store.deleteAddress(req.poolId, current, deadline)) === 'deleted') {
        this.log.log(`released address ${ip} in pool ${req.poolId} on node ${this.config.nodeId}`);
        const state = await this.states.loaded(pool);
        state?.releaseLocally(addr.value);
        state?.macGrants.forget(ip);
        return;
      }
    }
    this.log.warn(`ReleaseAddress of ${ip} in pool ${req.poolId}: it kept changing; left as it is`);
  }

  /**
   * The endpoint name to store with the address, if any. A name that could not be stored safely
   * is left out with a warning, not refused: Engine 29 sends the container's name with every
   * start, and a 400 would keep that container from starting.
   */
  private storedName(req: AddressRequest): { name?: string } {
    const name = req.endpointName;
    if (!name) {
      return {};
    }
    const why = unstorableEndpointName(name);
    if (why === undefined) {
      return { name };
    }
    this.log.warn(
      `RequestAddress in pool ${req.poolId}: endpoint name ${shownName(name)} is not stored with the address: ${why}`,
    );
    return {};
  }

  /** The reply decided on `state`, or undefined when `state` is not the pool that exists. */
  private async answer(state: PoolState, call: AddressCall): Promise<AddressReply | undefined> {
    const { req } = call;
    const wanted = req.address;
    if (!wanted) {
      if (req.gateway && state.gatewayIp) {
        // Docker asks for "any" gateway only when RequestPool returned none; ours always has one.
        return (await this.isCurrent(state, call)) ? replyWith(state, state.gatewayIp) : undefined;
      }
      return this.allocateDynamic(state, call);
    }
    const refusal = refuseStatic(state, wanted, req.poolId);
    if (refusal) {
      if (await this.isCurrent(state, call)) {
        throw refusal;
      }
      return undefined;
    }
    if (req.gateway && wanted.toString() === state.gatewayIp) {
      // The pool's own gateway: Docker asks for it when --gateway names the first host.
      return (await this.isCurrent(state, call)) ? replyWith(state, state.gatewayIp) : undefined;
    }
    return this.reserveStatic(state, wanted, call);
  }

  private async reserveStatic(
    state: PoolState,
    wanted: Addr,
    call: AddressCall,
  ): Promise<AddressReply | undefined> {
    const claim = await this.claim(state, wanted, call);
    if (claim.kind === 'taken') {
      throw new AddressInUse(wanted.toString(), call.req.poolId, claim.holder);
    }
    return claim.kind === 'granted' ? claim.reply : undefined;
  }

  /**
   * Reserves `wanted` for the call, or grants it as held already when the holder's record allows
   * (grantsHeld: the network's addresses, a repeated request of the same MAC).
   */
  private async claim(state: PoolState, wanted: Addr, call: AddressCall): Promise<Claim> {
    const ip = wanted.toString();
    const record = { ...call.record, address: state.withLength(ip) };
    const result = await this.store.reserveAddress(
      state.pool,
      ip,
      record,
      call.nonce,
      call.deadline,
    );
    if (result.kind === 'pool-gone') {
      this.states.forget(state);
      return result;
    }
    state.reserveLocally(wanted.value);
    if (result.kind === 'reserved') {
      logReserved(call.req.poolId, wanted, record);
    } else if (grantsHeld(record, result.existing.record)) {
      this.logGrantedAgain(call, ip, result.existing.record);
    } else {
      return { kind: 'taken', holder: result.existing.record };
    }
    this.rememberGrant(state, call, ip);
    return { kind: 'granted', reply: replyWith(state, ip) };
  }

  /** A repeated endpoint request is worth a line; the network's addresses are asked for often. */
  private logGrantedAgain(call: AddressCall, ip: string, held: AddressRecord): void {
    const line = `address ${ip} in pool ${call.req.poolId} granted again to node ${call.record.node}`;
    if (call.record.type === 'endpoint') {
      this.log.log(`${line}: the same MAC ${held.mac ?? ''} asked for it again`);
    } else {
      this.log.debug(`${line}: it is the network's ${call.record.type ?? ''} address`);
    }
  }

  private rememberGrant(state: PoolState, call: AddressCall, ip: string): void {
    if (call.record.type === 'endpoint' && call.record.mac !== undefined) {
      state.macGrants.remember(call.record.mac, ip);
    }
  }

  /**
   * A dynamic request whose MAC this node granted an address to lately is first offered that
   * address again (a request dockerd repeated after a lost reply); undefined when it is not its
   * to have any more, and the request goes on as any dynamic one.
   */
  private async repeatedGrant(state: PoolState, call: AddressCall): Promise<Claim | undefined> {
    const mac = call.record.mac;
    const ip = mac === undefined ? undefined : state.macGrants.get(mac);
    if (ip === undefined) {
      return undefined;
    }
    const claim = await this.claim(state, Addr.parse(ip), call);
    if (claim.kind === 'taken') {
      state.macGrants.forget(ip);
      return undefined;
    }
    return claim;
  }

  private async allocateDynamic(
    state: PoolState,
    call: AddressCall,
  ): Promise<AddressReply | undefined> {
    const repeated = await this.repeatedGrant(state, call);
    if (repeated) {
      return repeated.kind === 'granted' ? repeated.reply : undefined;
    }
    // Candidates, the "full" re-list, exhaustion and conflicts are handled per request inside
    // the pool's batch (address-batch.ts); undefined means the pool is gone.
    try {
      const addr = await state.batch.allocate(call.record, call.nonce, call.deadline);
      if (!addr) {
        this.states.forget(state);
        return undefined;
      }
      this.rememberGrant(state, call, addr.toString());
      return replyWith(state, addr.toString());
    } catch (err) {
      // "Exhausted" comes from this node's view of the pool: make sure it is the pool there is.
      if (err instanceof PoolExhausted && !(await this.isCurrent(state, call))) {
        return undefined;
      }
      throw err;
    }
  }

  private isCurrent(state: PoolState, call: AddressCall): Promise<boolean> {
    return this.states.isCurrent(state, call.arrived, call.deadline);
  }
}

function replyWith(state: PoolState, ip: string): AddressReply {
  return { address: state.withLength(ip), data: {} };
}

/** Why a static address cannot be had in this pool whoever holds it, or undefined. */
function refuseStatic(state: PoolState, addr: Addr, poolId: string): IpamError | undefined {
  if (!state.subnet.contains(addr)) {
    return new AddressOutOfRange(
      `address ${addr.toString()} is outside pool ${poolId}'s subnet ${state.subnet.toString()}`,
    );
  }
  // IPv6: the first address is the subnet-router anycast address; there is no broadcast.
  if (!state.subnet.isHost(addr)) {
    const what = addr.equals(state.subnet.network())
      ? addr.family === 6
        ? 'subnet-router anycast'
        : 'network'
      : 'broadcast';
    return new InvalidRequest(
      `address ${addr.toString()} is the ${what} address of pool ${poolId}'s subnet ${state.subnet.toString()}`,
    );
  }
  return undefined;
}
