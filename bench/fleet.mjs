// npm run bench:fleet [-- --quick] (or npm run bench -- --fleet): N simulated hosts, each the
// plugin's own allocators with its own etcd client, NODE_ID and watches, on a 3-member etcd
// cluster; a fleet workload; what it costs etcd and each host. See docs/capacity.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { KeyLayout } from '../dist/libs/store/src/keys.js';
import { callOptions, pluginLikeClient, putBatched } from './lib/etcd.mjs';
import { sampleCluster, startEtcdCluster } from './lib/etcd-cluster.mjs';
import { readSnapshot, verifyFleet } from './lib/fleet-check.mjs';
import {
  DEPARTED_NODE,
  JOIN_POOL,
  fleetPlan,
  nodeId,
  privateSubnet,
  sharedPools,
} from './lib/fleet-plan.mjs';
import { printTable, summarizeRun } from './lib/fleet-report.mjs';
import { startWorker } from './lib/fleet-workers.mjs';
import { ROOT } from './lib/plugin.mjs';
import { drive, summarize } from './lib/stats.mjs';

const USAGE = `usage: npm run bench:fleet [-- --quick] [-- --hosts 10,50,100] [-- --out DIR]
  --quick         a few hosts and a short window (the CI tier): proves the bench and the
                  invariants, no timing is judged
  --hosts LIST    fleet sizes to run, one fresh cluster each (default 10,50,100)
  --workers N     at most this many worker processes (default 4; 25 hosts each until then)
  --window S      seconds of offered load (default 30)
  --rate R        steady container starts per second, fleet-wide (default 50)
  --profile DIR   run the workers with node --cpu-prof into DIR
  --out DIR       where the JSON results go (default bench/results)`;

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    fleet: { type: 'boolean', default: false }, // the switch of npm run bench -- --fleet
    hosts: { type: 'string' },
    workers: { type: 'string' },
    window: { type: 'string' },
    rate: { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench/results') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (argv.help) {
  console.log(USAGE);
  process.exit(0);
}
const QUICK = argv.quick;

/** @param {string | undefined} text @param {number} fallback @param {string} flag */
function positive(text, fallback, flag) {
  if (text === undefined) {
    return fallback;
  }
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`${flag} ${text}: expected a positive number`);
    process.exit(2);
  }
  return n;
}

const P = {
  sizes: (argv.hosts ?? (QUICK ? '4' : '10,50,100'))
    .split(',')
    .map((s) => Math.round(positive(s.trim(), 1, '--hosts'))),
  maxWorkers: positive(argv.workers, QUICK ? 2 : 4, '--workers'),
  hostsPerWorker: 25,
  windowMs: positive(argv.window, QUICK ? 4 : 30, '--window') * 1000,
  rate: positive(argv.rate, QUICK ? 20 : 50, '--rate'),
  lifeMs: QUICK ? [500, 3_000] : [5_000, 25_000],
  deployGroup: QUICK ? 2 : 10,
  deployPerHost: QUICK ? 5 : 20,
  burstPerHost: QUICK ? 5 : 20,
  idleMs: QUICK ? 1_000 : 5_000,
  ceilingMs: QUICK ? 1_000 : 3_000,
  joinAddresses: QUICK ? 2_000 : 60_000,
};

const STAMP = new Date().toISOString().replace(/[:.]/g, '-');
/** The node id of the host that joins the big pool. */
const JOIN_NODE = 'host-join';

/** @typedef {import('./lib/fleet-report.mjs').Sample} Sample */
const clock = () => performance.timeOrigin + performance.now();

/** @param {string} text */
function note(text) {
  console.log(`   ${text}`);
}

/**
 * @typedef {object} Fleet  one run's cluster, its hosts' workers, and where they keep their keys
 * @property {number} n
 * @property {Awaited<ReturnType<typeof startEtcdCluster>>} cluster
 * @property {import('etcd3').Etcd3} raw
 * @property {import('./lib/fleet-workers.mjs').FleetWorker[]} workers
 * @property {string} prefix
 * @property {{ endpoints: string[], prefix: string, pools: ReturnType<typeof sharedPools> }} common
 * @property {(node: string) => import('./lib/fleet-workers.mjs').FleetWorker | undefined} workerOf
 */

/**
 * One fleet of `n` hosts on a fresh 3-member cluster: set-up, idle, the window of offered load,
 * a burst on every host at once, a new host joining a big pool, and the checks.
 * @param {number} n
 */
async function runFleet(n) {
  const load = loadavg();
  console.log(`\n== ${n} hosts (load ${load.map((l) => l.toFixed(2)).join(' ')})`);
  const cluster = await startEtcdCluster(3);
  const raw = pluginLikeClient(cluster.endpoints);
  /** @type {import('./lib/fleet-workers.mjs').FleetWorker[]} */
  const workers = [];
  try {
    note(
      `etcd ${cluster.version}, ${cluster.members.length} members on loopback, data ${cluster.tmpfs ? 'on tmpfs' : 'on disk'} (${cluster.dataDir})`,
    );
    const ceiling = await rawCeiling(cluster, raw, `/kipam-fleet/${STAMP}/raw-n${n}/`);
    note(
      `raw ceiling: ${Math.round(ceiling.throughput)} create-if-absent transactions/s at c=64, etcd CPU ${Math.round(ceiling.etcdCpuUsPerTxn)} µs per transaction (3 members)`,
    );
    workers.push(...(await startWorkers(n)));
    const prefix = `/kipam-fleet/${STAMP}/n${n}`;
    /** @type {Fleet} */
    const fleet = {
      n,
      cluster,
      raw,
      workers,
      prefix,
      common: { endpoints: cluster.endpoints, prefix, pools: sharedPools() },
      workerOf: (node) => workers.find((w) => w.nodes.has(node)) ?? workers[0],
    };
    const setup = await setUpHosts(fleet);
    // Idle: what the fleet costs etcd when nothing happens (probes, watch keep-alives).
    const idle0 = await sample(fleet);
    await new Promise((r) => setTimeout(r, P.idleMs));
    const idle1 = await sample(fleet);
    const offered = await offerLoad(fleet);
    const burst = await burstEverywhere(fleet);
    const joined = await joinBigPool(fleet);
    const checked = await checkFleet(fleet);
    return summarizeRun({
      n,
      params: P,
      load: { start: load, end: loadavg() },
      cluster: { version: cluster.version, tmpfs: cluster.tmpfs, dataDir: cluster.dataDir },
      workers: workers.length,
      ceiling,
      ...setup,
      idle: [idle0, idle1],
      ...offered,
      ...burst,
      join: joined,
      ...checked,
    });
  } finally {
    for (const w of workers) {
      await w.call('close').catch(() => undefined);
      await w.stop();
    }
    raw.close();
    await cluster.stop();
  }
}

/**
 * The worker processes for `n` hosts, each with its hosts assigned (round robin): at least two,
 * so that hosts in different processes race (and the held sets are compared across processes),
 * at most --workers.
 * @param {number} n
 */
async function startWorkers(n) {
  const count = Math.min(n, P.maxWorkers, Math.max(2, Math.ceil(n / P.hostsPerWorker)));
  const nodeArgs =
    argv.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${argv.profile}`];
  const workers = [];
  for (let w = 0; w < count; w++) {
    workers.push(await startWorker(w, nodeArgs));
  }
  for (let i = 0; i < n; i++) {
    workers[i % count]?.nodes.add(nodeId(i));
  }
  return workers;
}

/**
 * Starts every host with its pools in use: the first host creates the shared pools, then every
 * worker starts its hosts. Returns how long that took and each worker's memory.
 * @param {Fleet} fleet
 */
async function setUpHosts(fleet) {
  /** @type {Record<string, string>} */
  const privateSubnets = {};
  for (let i = 0; i < fleet.n; i++) {
    privateSubnets[nodeId(i)] = privateSubnet(i);
  }
  const t0 = clock();
  const first = await fleet.workerOf(nodeId(0))?.call('addHosts', {
    ...fleet.common,
    nodeIds: [nodeId(0)],
    privateSubnets,
  });
  const rest = await Promise.all(
    fleet.workers.map((w) =>
      w.call('addHosts', {
        ...fleet.common,
        nodeIds: [...w.nodes].filter((id) => id !== nodeId(0)),
        privateSubnets,
      }),
    ),
  );
  const setupSeconds = (clock() - t0) / 1000;
  note(
    `${fleet.n} hosts up with 10 pools each in ${setupSeconds.toFixed(1)} s (${fleet.workers.length} workers)`,
  );
  return {
    setupSeconds,
    setup: [first, ...rest].flatMap((s) => s?.started ?? []),
    memory: fleet.workers.map((w, i) => ({ ready: w.ready, memory: rest[i]?.memory })),
  };
}

/**
 * The window of offered load (fleetPlan), with a raw transaction timed alongside.
 * @param {Fleet} fleet
 */
async function offerLoad(fleet) {
  const plan = fleetPlan({
    hosts: fleet.n,
    windowMs: P.windowMs,
    rate: P.rate,
    lifeMs: P.lifeMs,
    deployGroup: P.deployGroup,
    deployPerHost: P.deployPerHost,
  });
  const startAt = clock() + 500;
  const run0 = await sample(fleet);
  const probe = rawProbe(fleet.raw, `/kipam-fleet/${STAMP}/probe-n${fleet.n}/`, startAt);
  const planResults = await Promise.all(
    fleet.workers.map((w) =>
      w.call('runPlan', {
        startAt,
        windowMs: P.windowMs,
        events: plan.filter((e) => w.nodes.has(e.node)),
      }),
    ),
  );
  const run1 = await sample(fleet);
  const alongside = await probe.stop();
  note(`window of ${P.windowMs / 1000} s: ${plan.length} starts offered`);
  return { plan, planResults, window: /** @type {[Sample, Sample]} */ ([run0, run1]), alongside };
}

/**
 * Every host asks for P.burstPerHost addresses of shared-0 at the same instant.
 * @param {Fleet} fleet
 */
async function burstEverywhere(fleet) {
  const burstAt = clock() + 300;
  const burst0 = await sample(fleet);
  const bursts = await Promise.all(
    fleet.workers.map((w) =>
      w.call('burst', { at: burstAt, count: P.burstPerHost, pool: 'shared-0' }),
    ),
  );
  const burst1 = await sample(fleet);
  return { bursts, burstAt, burstWindow: /** @type {[Sample, Sample]} */ ([burst0, burst1]) };
}

/**
 * A new host joins a pool of P.joinAddresses addresses (a departed host's, written straight in)
 * and asks for its first address.
 * @param {Fleet} fleet
 */
async function joinBigPool(fleet) {
  await fleet.workerOf(nodeId(0))?.call('requestPool', { nodeId: nodeId(0), pool: JOIN_POOL });
  await putBatched(fleet.raw, departedAddresses(new KeyLayout(fleet.prefix), P.joinAddresses));
  const joinWorker = fleet.workers[fleet.workers.length - 1] ?? fleet.workers[0];
  const joined = await joinWorker?.call('join', {
    ...fleet.common,
    nodeId: JOIN_NODE,
    pool: JOIN_POOL,
  });
  note(
    `new host joined ${JOIN_POOL.name} (${P.joinAddresses.toLocaleString('en-US')} addresses): first address after ${joined.joinToFirstAddressMs.toFixed(0)} ms`,
  );
  return joined;
}

/**
 * The invariants: `--check` clean, every held address in etcd once, none leaked, no duplicate
 * seen inside a worker, no request failed. Prints what is wrong.
 * @param {Fleet} fleet
 */
async function checkFleet(fleet) {
  const held = (await Promise.all(fleet.workers.map((w) => w.call('held')))).flat();
  const snapshot = await readSnapshot(fleet.raw, fleet.prefix);
  const hosts = new Set([...fleet.workers.flatMap((w) => [...w.nodes]), JOIN_NODE]);
  const verdict = verifyFleet({ entries: snapshot.entries, held, hosts });
  const end = await sample(fleet);
  const problems = [
    ...verdict.problems,
    ...end.workers.flatMap((w) => w.duplicates.map((d) => `duplicate: ${d}`)),
    ...end.workers.flatMap((w) =>
      w.errorSamples.map(
        (/** @type {{ op: string, message: string }} */ e) =>
          `request failed (${e.op}): ${e.message}`,
      ),
    ),
  ];
  note(
    `check at revision ${snapshot.revision}: ${verdict.check.counts.addresses} addresses, ${verdict.check.violations.length} violations; ${verdict.held} held, ${verdict.leaked} leaked`,
  );
  for (const p of problems.slice(0, 20)) {
    console.error(`   PROBLEM: ${p}`);
  }
  return { verdict, end, problems };
}

/**
 * What this cluster does at most with the plugin's client and nothing else: one-put
 * create-if-absent transactions (a lone RequestAddress's transaction) at c=64, and etcd's CPU
 * per transaction (all members). The fleet's proposals per second are measured against it.
 * @param {Awaited<ReturnType<typeof startEtcdCluster>>} cluster
 * @param {import('etcd3').Etcd3} raw
 * @param {string} prefix
 */
async function rawCeiling(cluster, raw, prefix) {
  let seq = 0;
  const value = Buffer.from(
    JSON.stringify({ address: '10.0.0.2/16', node: 'raw', type: 'endpoint', req: 'r' }),
  );
  const op = async () => {
    const key = Buffer.from(`${prefix}${seq++}`);
    await raw.kv.txn(
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value } }],
        failure: [{ request_range: { key } }],
      },
      callOptions(),
    );
  };
  await drive({ concurrency: 64, durationMs: 1_000, op }); // a new cluster warms up slowly
  const before = await sampleCluster(cluster);
  const r = await drive({ concurrency: 64, durationMs: P.ceilingMs, op });
  const after = await sampleCluster(cluster);
  const cpuMs = after.reduce((s, m, i) => s + m.cpuMs - (before[i]?.cpuMs ?? 0), 0);
  await raw.delete().prefix(prefix);
  return {
    throughput: r.throughput,
    p99: r.latency.p99,
    etcdCpuUsPerTxn: (cpuMs * 1000) / r.ops,
  };
}

/**
 * One raw create-if-absent transaction every 20 ms from `startAt` until stopped, timed: what
 * etcd answers a lone transaction while the fleet's load runs (the driver's own event loop is
 * idle meanwhile, unlike the workers').
 * @param {import('etcd3').Etcd3} raw
 * @param {string} prefix
 * @param {number} startAt
 */
function rawProbe(raw, prefix, startAt) {
  const state = { stopped: false };
  /** @type {number[]} */
  const latencies = [];
  const value = Buffer.from('{}');
  const loop = (async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, startAt - clock())));
    for (let i = 0; !state.stopped; i++) {
      const key = Buffer.from(`${prefix}${i}`);
      const t0 = performance.now();
      await raw.kv.txn(
        {
          compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key, value } }],
          failure: [],
        },
        callOptions(),
      );
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      state.stopped = true;
      await loop;
      await raw.delete().prefix(prefix);
      return summarize(latencies);
    },
  };
}

/**
 * The cluster's figures and every worker's counters now.
 * @param {Fleet} fleet
 * @returns {Promise<Sample>}
 */
async function sample(fleet) {
  const [etcd, hosts] = await Promise.all([
    sampleCluster(fleet.cluster),
    Promise.all(fleet.workers.map((w) => w.call('counters'))),
  ]);
  return { at: clock(), etcd, workers: hosts };
}

/**
 * `count` endpoint addresses of the join pool owned by a host that is gone, as the plugin
 * writes them, from the third address of the subnet on.
 * @param {KeyLayout} keys
 * @param {number} count
 * @returns {Generator<[string, string]>}
 */
function* departedAddresses(keys, count) {
  const [net, len] = JOIN_POOL.subnet.split('/');
  const [a, b] = (net ?? '').split('.').map(Number);
  for (let i = 0; i < count; i++) {
    const n = i + 2; // after .0 (network) and .1 (gateway)
    const ip = `${a}.${b}.${n >> 8}.${n & 255}`;
    yield [
      keys.address(JOIN_POOL.network, ip),
      JSON.stringify({ address: `${ip}/${len}`, node: DEPARTED_NODE, type: 'endpoint', req: 'x' }),
    ];
  }
}

async function main() {
  const results = {
    version: 1,
    kind: 'fleet',
    startedAt: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    params: P,
    host: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryMB: Math.round(totalmem() / 2 ** 20),
      loadavgAtStart: loadavg(),
      node: process.version,
    },
    /** @type {ReturnType<typeof summarizeRun>[]} */
    runs: [],
  };
  console.log(`kontena-ipam fleet benchmark (${results.mode}) ${results.startedAt}`);
  console.log(
    `host: ${results.host.cpus} × ${results.host.cpuModel}, ${results.host.memoryMB} MB, node ${process.version}`,
  );
  console.log(
    `workload: ${P.rate} starts/s steady for ${P.windowMs / 1000} s, rolling deploy ${P.deployPerHost} at once on ${P.deployGroup} hosts at a time, burst ${P.burstPerHost} on every host`,
  );
  let failed = false;
  for (const n of P.sizes) {
    const run = await runFleet(n);
    results.runs.push(run);
    failed ||= run.problems.length > 0;
  }
  printTable(results.runs, QUICK);
  mkdirSync(argv.out, { recursive: true });
  const file = join(argv.out, `fleet-${STAMP}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${file}`);
  if (failed) {
    throw new Error('invariants violated or requests failed: see PROBLEM lines above');
  }
}

try {
  await main();
  process.exit(0);
} catch (e) {
  console.error(
    `\nfleet benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
  );
  process.exit(1);
}
