// A worker process of the fleet benchmark (bench/fleet.mjs): several simulated hosts
// (fleet-host.mjs) in one process, driven over IPC. Each request is `{ id, op, ...args }`, each
// answer `{ id, result }` or `{ id, error }`. Hosts call their allocators directly, with requests
// shaped as the plugin's wire layer builds them (libs/ipam: PoolRequest, AddressRequest).
import { setTimeout as sleep } from 'node:timers/promises';

import { Addr, Prefix } from '../../dist/libs/net/src/index.js';
import { startHost, zeroCounters } from './fleet-host.mjs';
import { cpuMs, rssBytes } from './proc.mjs';

/**
 * @typedef {import('./fleet-host.mjs').FleetHost & {
 *   poolIds: Map<string, string> }} Host   poolIds: the bench's pool name → the plugin's pool id
 */

/** @type {Map<string, Host>} */
const hosts = new Map();
/**
 * Addresses held now, per pool id: ip → node. An address handed out while another host of this
 * process holds it is a duplicate (across processes the driver compares at the end).
 * @type {Map<string, Map<string, string>>}
 */
const held = new Map();
/** @type {string[]} */
const duplicates = [];
/** @type {{ op: string, message: string }[]} */
const errors = [];
let errorCount = 0;
/** RSS after the first host of this process was up with its pools in use. */
let rssFirstHost = NaN;
let heapFirstHost = NaN;

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const clock = () => performance.timeOrigin + performance.now();

function gc() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
}

function memory() {
  gc();
  return { rss: rssBytes(process.pid) ?? NaN, heap: process.memoryUsage().heapUsed };
}

/**
 * @param {string} op
 * @param {unknown} err
 */
function recordError(op, err) {
  errorCount++;
  if (errors.length < 20) {
    errors.push({ op, message: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * @param {string} poolId
 * @param {string} ip
 * @param {string} node
 */
function hold(poolId, ip, node) {
  let m = held.get(poolId);
  if (!m) {
    m = new Map();
    held.set(poolId, m);
  }
  const other = m.get(ip);
  if (other !== undefined) {
    duplicates.push(`${ip} in pool ${poolId}: held by ${other}, handed out again to ${node}`);
  }
  m.set(ip, node);
}

/**
 * One RequestAddress as the wire layer builds it for `docker run` (dynamic, not a gateway).
 * @param {Host} host
 * @param {string} pool  the bench's pool name
 * @returns {Promise<{ ms: number, poolId: string, ip: string }>}
 */
async function allocate(host, pool) {
  const poolId = host.poolIds.get(pool);
  if (poolId === undefined) {
    throw new Error(`host ${host.nodeId} has no pool ${pool}`);
  }
  const t0 = performance.now();
  const reply = await host.addresses.requestAddress({ poolId, gateway: false });
  const ms = performance.now() - t0;
  const ip = reply.address.split('/')[0] ?? '';
  hold(poolId, ip, host.nodeId);
  return { ms, poolId, ip };
}

/**
 * ReleaseAddress; the address leaves the held set before the call (the container is gone).
 * @param {Host} host
 * @param {string} poolId
 * @param {string} ip
 */
async function release(host, poolId, ip) {
  held.get(poolId)?.delete(ip);
  const t0 = performance.now();
  await host.addresses.releaseAddress({ poolId, address: Addr.parse(ip) });
  return performance.now() - t0;
}

/**
 * @typedef {object} PoolSpec
 * @property {string} name      the bench's name (shared-0, …, private)
 * @property {string} [network] Options.network of a shared pool; none for a private pool
 * @property {string} subnet
 */

/**
 * Starts hosts one after the other; each joins (or creates) its pools and takes one address in
 * each, so that every pool is in use (its feed listed and watched, its free set built).
 * @param {{ nodeIds: string[], endpoints: string[], prefix: string, pools: PoolSpec[],
 *   privateSubnets: Record<string, string> }} msg
 */
async function addHosts(msg) {
  const before = memory();
  /** @type {{ nodeId: string, bootMs: number, poolsMs: number, firstAddressesMs: number }[]} */
  const started = [];
  for (const nodeId of msg.nodeIds) {
    const t0 = performance.now();
    const base = await startHost({ nodeId, endpoints: msg.endpoints, prefix: msg.prefix });
    /** @type {Host} */
    const host = { ...base, poolIds: new Map() };
    hosts.set(nodeId, host);
    const t1 = performance.now();
    const privateSubnet = msg.privateSubnets[nodeId];
    const specs = privateSubnet
      ? [...msg.pools, { name: 'private', subnet: privateSubnet }]
      : msg.pools;
    for (const spec of specs) {
      const reply = await host.pools.requestPool(poolRequest(spec));
      host.poolIds.set(spec.name, reply.poolId);
    }
    const t2 = performance.now();
    await Promise.all(specs.map((spec) => allocate(host, spec.name)));
    started.push({
      nodeId,
      bootMs: t1 - t0,
      poolsMs: t2 - t1,
      firstAddressesMs: performance.now() - t2,
    });
    if (Number.isNaN(rssFirstHost)) {
      const m = memory();
      rssFirstHost = m.rss;
      heapFirstHost = m.heap;
    }
  }
  const after = memory();
  return {
    started,
    memory: {
      before,
      after,
      firstHost: { rss: rssFirstHost, heap: heapFirstHost },
      hosts: hosts.size,
    },
  };
}

/**
 * @typedef {object} PlanEvent
 * @property {number} t      ms after startAt
 * @property {string} node
 * @property {string} pool   the bench's pool name
 * @property {'steady' | 'deploy'} kind
 * @property {number} life   ms until the container stops; -1: it outlives the run
 */

/**
 * Runs the open-loop schedule: each start at its time whatever the others are doing, its stop
 * `life` ms later when that is still inside the window.
 * @param {{ startAt: number, windowMs: number, events: PlanEvent[] }} msg
 */
async function runPlan(msg) {
  const events = msg.events.toSorted((a, b) => a.t - b.t);
  /** @type {Record<'steady' | 'deploy', number[]>} */
  const latency = { steady: [], deploy: [] };
  /** @type {number[]} how late each start began (this process's event loop) */
  const lag = [];
  /** @type {number[]} */
  const releases = [];
  /** @type {number[]} absolute completion times of starts */
  let lastDone = 0;
  let inWindow = 0;
  /** @type {Promise<void>[]} */
  const running = [];
  const fire = async (/** @type {PlanEvent} */ e) => {
    const host = hosts.get(e.node);
    if (!host) {
      recordError('plan', `no host ${e.node} in this worker`);
      return;
    }
    const due = msg.startAt + e.t;
    lag.push(clock() - due);
    try {
      const a = await allocate(host, e.pool);
      latency[e.kind].push(a.ms);
      const done = clock();
      lastDone = Math.max(lastDone, done);
      if (done <= msg.startAt + msg.windowMs) {
        inWindow++;
      }
      if (e.life >= 0 && e.t + e.life < msg.windowMs) {
        await sleep(Math.max(0, due + e.life - clock()));
        releases.push(await release(host, a.poolId, a.ip));
      }
    } catch (err) {
      recordError(`${e.kind} start in ${e.pool}`, err);
    }
  };
  let i = 0;
  while (i < events.length) {
    const now = clock() - msg.startAt;
    while (i < events.length && (events[i]?.t ?? Infinity) <= now) {
      const e = events[i++];
      if (e) {
        running.push(fire(e));
      }
    }
    const next = events[i];
    if (next) {
      await sleep(Math.max(0, next.t - (clock() - msg.startAt)));
    }
  }
  await Promise.all(running);
  return { latency, lag, releases, lastDone, inWindow };
}

/**
 * Every host of this process asks for `count` addresses of `pool` at the wall-clock time `at`.
 * @param {{ at: number, count: number, pool: string }} msg
 */
async function burst(msg) {
  await sleep(Math.max(0, msg.at - clock()));
  const lag = clock() - msg.at;
  /** @type {number[]} */
  const latency = [];
  let lastDone = 0;
  await Promise.all(
    [...hosts.values()].flatMap((host) =>
      Array.from({ length: msg.count }, async () => {
        try {
          latency.push((await allocate(host, msg.pool)).ms);
          lastDone = Math.max(lastDone, clock());
        } catch (err) {
          recordError(`burst in ${msg.pool}`, err);
        }
      }),
    ),
  );
  return { latency, lastDone, lag };
}

/**
 * RequestPool on a running host (no address).
 * @param {{ nodeId: string, pool: PoolSpec }} msg
 */
async function requestPool(msg) {
  const host = hosts.get(msg.nodeId);
  if (!host) {
    throw new Error(`no host ${msg.nodeId} in this worker`);
  }
  const reply = await host.pools.requestPool(poolRequest(msg.pool));
  host.poolIds.set(msg.pool.name, reply.poolId);
  return reply;
}

/**
 * RequestPool as the wire layer builds it for `docker network create --subnet S
 * [--ipam-opt network=NAME]`.
 * @param {PoolSpec} spec
 */
function poolRequest(spec) {
  return {
    subnet: Prefix.parse(spec.subnet),
    ...(spec.network === undefined ? {} : { network: spec.network }),
    v6: false,
  };
}

/**
 * A new host joins a big pool: its start-up, RequestPool (the join) and its first
 * RequestAddress (which lists the pool's addresses and starts the watch).
 * @param {{ nodeId: string, endpoints: string[], prefix: string, pool: PoolSpec }} msg
 */
async function join(msg) {
  const t0 = performance.now();
  const base = await startHost({
    nodeId: msg.nodeId,
    endpoints: msg.endpoints,
    prefix: msg.prefix,
  });
  /** @type {Host} */
  const host = { ...base, poolIds: new Map() };
  hosts.set(msg.nodeId, host);
  const t1 = performance.now();
  const reply = await host.pools.requestPool(poolRequest(msg.pool));
  host.poolIds.set(msg.pool.name, reply.poolId);
  const t2 = performance.now();
  const first = await allocate(host, msg.pool.name);
  const t3 = performance.now();
  return {
    bootMs: t1 - t0,
    requestPoolMs: t2 - t1,
    firstAddressMs: t3 - t2,
    joinToFirstAddressMs: t3 - t1,
    address: first.ip,
    listedKeys: host.counters.listedKeys,
  };
}

/** Every host's counters summed, and the taken/reserved split by pool id. */
function counters() {
  const sum = zeroCounters();
  for (const host of hosts.values()) {
    for (const [k, v] of Object.entries(host.counters)) {
      if (typeof v === 'number') {
        // @ts-ignore -- every numeric field of HostCounters
        sum[k] += v;
      }
    }
    for (const [pool, [reserved, taken]] of Object.entries(host.counters.byPool)) {
      const s = (sum.byPool[pool] ??= [0, 0]);
      s[0] += reserved;
      s[1] += taken;
    }
  }
  return {
    counters: sum,
    hosts: hosts.size,
    cpuMs: cpuMs(process.pid) ?? NaN,
    rss: rssBytes(process.pid) ?? NaN,
    errors: errorCount,
    errorSamples: errors,
    duplicates,
  };
}

/** Every address this process's hosts hold now: [poolId, ip, node]. */
function heldNow() {
  /** @type {[string, string, string][]} */
  const out = [];
  for (const [poolId, m] of held) {
    for (const [ip, node] of m) {
      out.push([poolId, ip, node]);
    }
  }
  return out;
}

async function closeAll() {
  for (const host of hosts.values()) {
    await host.close().catch((/** @type {unknown} */ e) => recordError('close', e));
  }
  hosts.clear();
}

/** @type {Record<string, (msg: any) => unknown>} */
const ops = {
  addHosts,
  runPlan,
  burst,
  join,
  requestPool,
  counters,
  held: heldNow,
  close: closeAll,
};

process.on('message', (/** @type {any} */ msg) => {
  const op = ops[msg.op];
  void (async () => {
    try {
      if (!op) {
        throw new Error(`unknown op ${String(msg.op)}`);
      }
      const result = await op(msg);
      process.send?.({ id: msg.id, result });
    } catch (err) {
      process.send?.({
        id: msg.id,
        error: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, result: { ready: true, ...memory() } });
