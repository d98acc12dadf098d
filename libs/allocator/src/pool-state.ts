import type { Addr } from '#app/net';
import { Prefix } from '#app/net';
import type { AllocationStore, Deadline, StoredPool } from '#app/store';
import type { AddressBatch, BatchPool } from './address-batch.js';
import { addressViewFor, type AddressView } from './address-view.js';
import { Exclusions } from './exclusions.js';
import { MacGrants } from './mac-grants.js';
import type { Widened } from './pool-view.js';

/**
 * What this node knows about one pool it allocates from: the pool as read from etcd (its create
 * revision is its identity: the transactions compare it), and its view of the allocated
 * addresses (PoolView, kept fresh by etcd watches; a cursor for a huge IPv6 range:
 * address-view.ts). The view is only a hint for choosing candidates; the transaction decides. A PoolState belongs to one pool: another pool under the
 * same name (the name released and taken again) gets a PoolState of its own (pool-states.ts).
 */
export class PoolState implements BatchPool {
  readonly subnet: Prefix;
  /** The pool's own gateway IP (the first host): answered without a write. */
  readonly gatewayIp: string;
  readonly view: AddressView;
  /** Dynamic allocations of this pool that arrive together share one transaction. */
  batch!: AddressBatch;
  /** This node's latest grants by MAC: what a repeated dynamic request is offered first. */
  readonly macGrants = new MacGrants();
  /** `--ipam-opt exclude`: never a dynamic candidate. */
  private readonly excluded: Exclusions;

  /**
   * @param readAt  when the pool's read was sent (`performance.now()`): a request that arrived
   *   before it needs no second read to know that this is the pool that exists
   */
  constructor(
    readonly pool: StoredPool,
    store: AllocationStore,
    nodeId: string,
    readonly readAt: number,
  ) {
    this.subnet = Prefix.parse(pool.record.subnet);
    this.gatewayIp = pool.record.gateway.split('/')[0] ?? '';
    const range = pool.record.iprange ? Prefix.parse(pool.record.iprange) : this.subnet;
    this.view = addressViewFor(store, pool.id, this.subnet, range, nodeId);
    this.excluded = new Exclusions(pool.record.exclude);
  }

  /** `<ip>/<pool prefix length>`: how addresses of this pool are answered and stored. */
  withLength(ip: string): string {
    return `${ip}/${this.subnet.length}`;
  }

  get stale(): boolean {
    return this.view.stale;
  }

  sync(deadline: Deadline): Promise<void> {
    return this.view.sync(deadline);
  }

  widen(deadline: Deadline): Promise<Widened> {
    return this.view.widen(deadline);
  }

  /** The next candidate of the view that is not excluded (excluded ones stay taken locally). */
  nextCandidate(): Addr | undefined {
    let addr = this.view.nextCandidate();
    while (addr && !this.excluded.empty && this.excluded.has(addr)) {
      addr = this.view.nextCandidate();
    }
    return addr;
  }

  reserveLocally(value: bigint): void {
    this.view.reserveLocally(value);
  }

  releaseLocally(value: bigint): void {
    this.view.releaseLocally(value);
  }
}
