import type { Prefix } from '#app/net';
import type { AllocationStore } from '#app/store';
import { PoolView } from './pool-view.js';
import { SequentialView } from './sequential-view.js';

/**
 * The largest IPv6 range kept in a bitmap (8 KiB: a /112); a larger one, up to a /64's 2^64
 * addresses, is served by a cursor (SequentialView), since no structure may grow with it.
 */
export const MAX_V6_BITMAP = 1n << 16n;

/** What PoolState asks of its view of the addresses allocated in a pool. */
export type AddressView = Pick<
  PoolView,
  | 'open'
  | 'close'
  | 'stale'
  | 'sync'
  | 'widen'
  | 'nextCandidate'
  | 'reserveLocally'
  | 'releaseLocally'
>;

/** The view for a pool's allocation `range`: a bitmap (PoolView), or a cursor for a huge one. */
export function addressViewFor(
  store: AllocationStore,
  poolId: string,
  subnet: Prefix,
  range: Prefix,
  nodeId: string,
): AddressView {
  return range.family === 6 && range.size() > MAX_V6_BITMAP
    ? new SequentialView(store, poolId, subnet, range, nodeId)
    : new PoolView(store, poolId, subnet, range, nodeId);
}
