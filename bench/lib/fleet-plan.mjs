// The fleet benchmark's workload: which pools each host uses, and an open-loop schedule of
// container starts (RequestAddress) and stops (ReleaseAddress), generated from a fixed seed so
// that runs compare.

/** The shared pools' subnets: shared-0 is the /16 every host allocates from most. */
export const SHARED_POOLS = 9;
/** The pool a new host joins in the join test (preloaded with addresses of a departed host). */
export const JOIN_POOL = { name: 'big', network: 'fleet-big', subnet: '10.255.0.0/16' };
/** The node the join pool's preloaded addresses belong to. */
export const DEPARTED_NODE = 'fleet-departed';
/** Private pools are 10.16.0.0/16 onwards, one per host. */
export const MAX_HOSTS = 238;

/**
 * Every host joins the shared pools and has a private one: 10 pools of /16 in use per host.
 * @returns {import('./fleet-worker.mjs').PoolSpec[]}
 */
export function sharedPools() {
  return Array.from({ length: SHARED_POOLS }, (_, i) => ({
    name: `shared-${i}`,
    network: `fleet-shared-${i}`,
    subnet: `10.${i}.0.0/16`,
  }));
}

/** @param {number} i */
export function nodeId(i) {
  return `host-${String(i).padStart(3, '0')}`;
}

/** @param {number} i */
export function privateSubnet(i) {
  if (i >= MAX_HOSTS) {
    throw new Error(
      `at most ${MAX_HOSTS} hosts: private pools are /16s of 10.16.0.0 to 10.253.0.0`,
    );
  }
  return `10.${16 + i}.0.0/16`;
}

/** A small fast PRNG (mulberry32): the same seed, the same schedule. */
export function random(seed = 20) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @typedef {object} PlanParams
 * @property {number} hosts
 * @property {number} windowMs        how long starts are offered
 * @property {number} rate            steady container starts per second, fleet-wide
 * @property {number[]} lifeMs  a steady container lives between these two (uniform)
 * @property {number} deployGroup     hosts a rolling deploy starts on at once
 * @property {number} deployPerHost   containers each of them starts at once
 */

/**
 * Steady starts: a Poisson process at `rate` over the window, each on a random host, 80 % in
 * shared-0, 10 % in one of the other shared pools, 10 % in the host's private pool; each stops
 * after a random life (its stop is skipped when it falls after the window).
 * A rolling deploy: groups of `deployGroup` hosts in turn, each host `deployPerHost` containers
 * in shared-0 at the same instant, the groups spread evenly over 10-90 % of the window; those
 * containers outlive the run.
 * @param {PlanParams} p
 * @returns {import('./fleet-worker.mjs').PlanEvent[]}
 */
export function fleetPlan(p) {
  const rnd = random(p.hosts);
  /** @type {import('./fleet-worker.mjs').PlanEvent[]} */
  const events = [];
  let t = 0;
  for (;;) {
    t += (-Math.log(1 - rnd()) * 1000) / p.rate;
    if (t >= p.windowMs) {
      break;
    }
    const host = nodeId(Math.floor(rnd() * p.hosts));
    const r = rnd();
    const pool =
      r < 0.8
        ? 'shared-0'
        : r < 0.9
          ? `shared-${1 + Math.floor(rnd() * (SHARED_POOLS - 1))}`
          : 'private';
    const [shortest = 0, longest = shortest] = p.lifeMs;
    const life = shortest + rnd() * (longest - shortest);
    events.push({ t, node: host, pool, kind: 'steady', life });
  }
  const groups = Math.ceil(p.hosts / p.deployGroup);
  for (let g = 0; g < groups; g++) {
    const at = p.windowMs * (0.1 + (0.8 * (g + 0.5)) / groups);
    for (let h = g * p.deployGroup; h < Math.min(p.hosts, (g + 1) * p.deployGroup); h++) {
      for (let k = 0; k < p.deployPerHost; k++) {
        events.push({ t: at, node: nodeId(h), pool: 'shared-0', kind: 'deploy', life: -1 });
      }
    }
  }
  return events.sort((a, b) => a.t - b.t);
}
