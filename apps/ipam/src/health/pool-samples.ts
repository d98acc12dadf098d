import type { PoolAllocator, PoolStates } from '#app/allocator';
import type { PoolSample, SupernetSample } from '#app/metrics';
import type { AllocationStore } from '#app/store';

/**
 * The pool gauges' samples on a scrape: the pools this node serves, as it holds them in memory
 * (their subnets: the size), and how many addresses each holds in etcd, one count-only range per
 * pool (keys are not sent back). The count is etcd's rather than the node's view: a pool larger
 * than a /24 is watched in slices, so no node holds all of it.
 */
export async function poolSamples(
  states: PoolStates,
  store: AllocationStore,
): Promise<PoolSample[]> {
  const serving = await states.serving();
  const deadline = store.deadline();
  return Promise.all(
    serving.map(async (state): Promise<PoolSample> => {
      const [allocated = 0] = await store.countAddresses(state.pool.id, [''], deadline);
      return {
        pool: state.pool.id,
        family: state.subnet.family === 4 ? 'ipv4' : 'ipv6',
        size: state.subnet.hostCount(),
        allocated: BigInt(allocated),
      };
    }),
  );
}

/**
 * The supernet gauges' samples on a scrape: each supernet of this node's configuration (and the
 * cluster's IPv6 one once known), counted against every pool's subnet in the watched view.
 */
export async function supernetSamples(
  pools: PoolAllocator,
  store: AllocationStore,
): Promise<SupernetSample[]> {
  const usage = await pools.supernetUsage(store.deadline());
  return usage.map((u) => ({
    supernet: u.supernet.toString(),
    family: u.supernet.family === 4 ? 'ipv4' : 'ipv6',
    subnets: u.subnets,
    free: u.free,
  }));
}
