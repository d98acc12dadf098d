// npm run bench [-- --quick]: the allocator's figures against raw etcd, measured in one run on
// one etcd. See the issue "benchmarks" and libs/store/README.md ("Candidates").
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { KeyLayout } from '../dist/libs/store/src/keys.js';
import { callOptions, countPrefix, pluginLikeClient, putBatched, startEtcd } from './lib/etcd.mjs';
import { startFakeDocker } from './lib/fake-docker.mjs';
import { pluginCaller, ROOT, spawnPlugin, waitReady } from './lib/plugin.mjs';
import { cpuMs, tempDir, removeDir } from './lib/proc.mjs';
import { drive, median, summarize } from './lib/stats.mjs';
import { v6Sections } from './lib/v6.mjs';

// npm run bench -- --fleet [--quick …]: the fleet benchmark instead (bench/fleet.mjs exits itself).
if (process.argv.slice(2).includes('--fleet')) {
  await import('./fleet.mjs');
}

const USAGE = `usage: npm run bench [-- --quick] [-- --out DIR]
  --quick    smaller counts, same sections (under a minute); targets are judged on a full run
  --out DIR  where the JSON results go (default bench/results)
  --profile DIR  run the plugin of sections 1-4 with node --cpu-prof into DIR
  --fleet        the fleet benchmark instead: N hosts on a 3-member cluster (bench/fleet.mjs,
                 npm run bench:fleet -- --help)
  --only LIST    run only these sections: main (1-4, one plugin), startup (5), cleanup (6),
                 comma-separated, e.g. --only cleanup; the table shows only their figures
  ETCD_ENDPOINT=http://…  use this etcd instead of starting one`;

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench/results') },
    profile: { type: 'string' },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (argv.help) {
  console.log(USAGE);
  process.exit(0);
}
const QUICK = argv.quick;
const SECTIONS = ['main', 'startup', 'cleanup'];
const ONLY = argv.only === undefined ? SECTIONS : argv.only.split(',').map((x) => x.trim());
for (const name of ONLY) {
  if (!SECTIONS.includes(name)) {
    console.error(
      `--only ${argv.only}: unknown section ${name} (sections: ${SECTIONS.join(', ')})`,
    );
    process.exit(2);
  }
}

/** Counts of one run; the targets are stated for the full ones. */
const P = QUICK
  ? {
      concurrencies: [1, 16, 64],
      rounds: 1,
      durationMs: 400,
      warmupMs: 100,
      jitWarmupMs: 400,
      fillPrefix: 22,
      fillConcurrency: 16,
      probes: 20,
      pools: 100,
      poolProbes: 10,
      startupAddresses: 10_000,
      cleanupAddresses: 300,
      // Still more than one 4 MiB gRPC message of keys and values, so the paging is exercised.
      cleanupLargePool: 25_000,
      v6Fill: 0, // skipped in --quick
      v6FillProbes: 1_000,
    }
  : {
      concurrencies: [1, 16, 64],
      rounds: 3,
      durationMs: 3_000,
      warmupMs: 500,
      jitWarmupMs: 3_000,
      fillPrefix: 16,
      fillConcurrency: 16,
      probes: 200,
      pools: 1_000,
      poolProbes: 100,
      startupAddresses: 100_000,
      cleanupAddresses: 10_000,
      cleanupLargePool: 30_000,
      v6Fill: 100_000,
      v6FillProbes: 1_000,
    };
const FULL = {
  fillPrefix: 16,
  pools: 1_000,
  startupAddresses: 100_000,
  cleanupAddresses: 10_000,
  cleanupLargePool: 30_000,
};

const NODE_ID = 'bench-node';
const OTHER_NODE = 'bench-other';
const STAMP = new Date().toISOString().replace(/[:.]/g, '-');
const ROOT_PREFIX = `/kipam-bench/${STAMP}`;
const ETCD3_VERSION = readJson(join(ROOT, 'node_modules/etcd3/package.json')).version;
const PLUGIN_VERSION = readJson(join(ROOT, 'package.json')).version;

/** @param {string} file */
function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

// ------------------------------------------------------------------------------- addresses

/** @param {string} ip */
function ipToInt(ip) {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

/** @param {number} n */
function intToIp(n) {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/**
 * Keys and values of one pool as the plugin writes them (libs/store/src/keys.ts, records.ts):
 * pool, subnet, gateway address and one membership.
 * @param {KeyLayout} keys
 * @param {{ id: string, subnet: string, node: string }} p
 * @returns {[string, string][]}
 */
function poolEntries(keys, p) {
  const [net, len] = p.subnet.split('/');
  const gateway = intToIp(ipToInt(net ?? '') + 1);
  return [
    [
      keys.pool(p.id),
      JSON.stringify({ subnet: p.subnet, gateway: `${gateway}/${len}`, req: 'preload' }),
    ],
    [keys.subnet(net ?? ''), JSON.stringify({ address: p.subnet, pool: p.id, req: 'preload' })],
    [
      keys.address(p.id, gateway),
      JSON.stringify({ address: `${gateway}/${len}`, node: p.node, type: 'gateway', req: 'pre' }),
    ],
    [keys.member(p.id, p.node), JSON.stringify({ refs: 1, req: 'preload' })],
  ];
}

/**
 * `count` endpoint addresses of a pool, from the subnet's third address on (after the network
 * address and the gateway), owned by `node`.
 * @param {KeyLayout} keys
 * @param {{ id: string, subnet: string, node: string, count: number }} p
 * @returns {Generator<[string, string]>}
 */
function* addressEntries(keys, p) {
  const [net, len] = p.subnet.split('/');
  const base = ipToInt(net ?? '');
  for (let i = 0; i < p.count; i++) {
    const ip = intToIp(base + 2 + i);
    yield [
      keys.address(p.id, ip),
      JSON.stringify({
        address: `${ip}/${len}`,
        node: p.node,
        type: 'endpoint',
        req: i.toString(16).padStart(16, '0'),
      }),
    ];
  }
}

// ---------------------------------------------------------------------------------- output

const fmt = {
  /** @param {number} v */
  ops: (v) => `${Math.round(v).toLocaleString('en-US')} /s`,
  /** @param {number} v */
  ms: (v) => `${v.toFixed(2)} ms`,
  /** @param {number} v */
  s: (v) => `${v.toFixed(2)} s`,
  /** @param {number} v */
  mb: (v) => `${v.toFixed(0)} MB`,
  /** @param {number} v */
  count: (v) => Math.round(v).toLocaleString('en-US'),
};

/**
 * @typedef {object} Figure
 * @property {string} id
 * @property {string} label
 * @property {number} value
 * @property {keyof typeof fmt} unit
 * @property {number} [base]        the value compared against (raw etcd unless baseLabel says)
 * @property {string} [baseLabel]
 * @property {number} [ratio]
 * @property {string} [target]
 * @property {boolean | null} [met] null: the run's counts differ from the target's
 */

/** @type {Figure[]} */
const figures = [];

/** @param {Figure} f */
function figure(f) {
  figures.push(f);
  return f;
}

/**
 * @param {string} text
 * @param {number} width
 */
const pad = (text, width) => text + ' '.repeat(Math.max(0, width - text.length));

function printTable() {
  const rows = figures.map((f) => [
    f.label,
    fmt[f.unit](f.value),
    f.base === undefined
      ? ''
      : `${f.baseLabel ?? 'raw'} ${fmt[f.unit === 'count' ? 'ms' : f.unit](f.base)}`,
    f.ratio === undefined || !Number.isFinite(f.ratio) ? '' : f.ratio.toFixed(2),
    f.target ?? '',
    f.met === undefined ? '' : f.met === null ? 'n/a (quick)' : f.met ? 'yes' : 'NO',
  ]);
  const head = ['figure', 'value', 'raw etcd / baseline', 'ratio', 'target', 'met?'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => pad(c, widths[i] ?? 0)).join('  ');
  console.log('');
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) {
    console.log(line(r));
  }
  console.log('');
}

/** @param {string} text */
function section(text) {
  console.log(`\n== ${text}`);
}

/** @param {string} text */
function note(text) {
  console.log(`   ${text}`);
}

// ------------------------------------------------------------------------------------ main

/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
/**
 * Plugins running now: a failure shows the end of their logs.
 * @type {Set<import('./lib/plugin.mjs').BenchPlugin>}
 */
const livePlugins = new Set();
const results = {
  version: 1,
  plugin: PLUGIN_VERSION,
  startedAt: new Date().toISOString(),
  mode: QUICK ? 'quick' : 'full',
  params: P,
  ran: ONLY,
  host: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMB: Math.round(totalmem() / 2 ** 20),
    loadavgAtStart: loadavg(),
    node: process.version,
  },
  etcd: /** @type {Record<string, unknown>} */ ({}),
  client: {
    library: `etcd3 ${ETCD3_VERSION}`,
    options:
      "as the plugin's EtcdConnection: all endpoints, dialTimeout 5000 ms, faultHandling.global noop, 5 s deadline per call",
  },
  sections: /** @type {Record<string, unknown>} */ ({}),
  figures,
};

async function main() {
  const started = performance.now();
  console.log(
    `kontena-ipam ${PLUGIN_VERSION} benchmark (${QUICK ? 'quick' : 'full'}) ${results.startedAt}`,
  );
  console.log(
    `host: ${results.host.cpus} × ${results.host.cpuModel}, ${results.host.memoryMB} MB, node ${process.version}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const etcd = await startEtcd();
  cleanups.push(() => etcd.stop());
  results.etcd = {
    version: etcd.version,
    endpoints: etcd.endpoints,
    external: etcd.external,
    flags: etcd.flags,
    dataDir: etcd.dataDir,
    tmpfs: etcd.tmpfs,
  };
  if (etcd.external) {
    console.log(`etcd ${etcd.version} at ${etcd.endpoints.join(',')} (ETCD_ENDPOINT)`);
  } else {
    console.log(
      `etcd ${etcd.version}, one member, data dir ${etcd.tmpfs ? 'on tmpfs (/dev/shm)' : 'on disk (no /dev/shm)'}:`,
    );
    console.log(`  ${etcd.flags.join(' \\\n    ')}`);
  }
  console.log(`client: ${results.client.library}, ${results.client.options}`);
  console.log(`key prefix: ${ROOT_PREFIX}`);

  const raw = pluginLikeClient(etcd.endpoints);
  cleanups.push(async () => raw.close());
  if (etcd.external) {
    cleanups.push(() => raw.delete().prefix(`${ROOT_PREFIX}/`));
  }

  if (ONLY.includes('main')) {
    await mainSections(etcd, raw);
  }

  // ---------------------------------------------------------------------- section 5
  if (ONLY.includes('startup')) {
    await startup(etcd.endpoints, raw);
  }

  // ---------------------------------------------------------------------- section 6
  if (ONLY.includes('cleanup')) {
    await cleanupPasses(etcd.endpoints, raw);
  }

  const elapsed = (performance.now() - started) / 1000;
  results.sections.elapsedSeconds = elapsed;
  results.host.loadavgAtEnd = loadavg();
  printTable();
  if (QUICK) {
    note('quick mode: smaller counts and shorter runs; the targets are judged on a full run');
  }
  mkdirSync(argv.out, { recursive: true });
  const file = join(argv.out, `${STAMP}${QUICK ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results: ${file} (${elapsed.toFixed(1)} s)`);
  console.log('compare runs (medians): node bench/compare.mjs bench/results/*.json');
}

/**
 * Sections 1-4 on one plugin: raw etcd against RequestAddress, the fill curve, dynamic pools.
 * @param {Awaited<ReturnType<typeof startEtcd>>} etcd
 * @param {import('etcd3').Etcd3} raw
 */
async function mainSections(etcd, raw) {
  // ---------------------------------------------------------------- sections 1 and 2
  const mainPrefix = `${ROOT_PREFIX}/main`;
  const plugin = await spawnPlugin({
    endpoints: etcd.endpoints,
    prefix: mainPrefix,
    nodeId: NODE_ID,
    nodeArgs: argv.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${argv.profile}`],
  });
  cleanups.push(() => plugin.stop());
  livePlugins.add(plugin);
  await waitReady(plugin);
  const caller = pluginCaller(plugin.socketPath, Math.max(...P.concurrencies));
  cleanups.push(async () => caller.close());
  const call = caller.call;
  console.log(
    `plugin: node ${PLUGIN_MAIN_REL} (pid ${plugin.pid}), LOG_LEVEL=info, NODE_ID=${NODE_ID}, socket with keep-alive connections`,
  );
  await handshake(call);

  section('1-2. raw etcd create-if-absent txn vs RequestAddress over the socket');
  const ratePool = await requestPool(call, { network: 'bench-rate', pool: '10.64.0.0/12' });
  note(`pool bench-rate ${ratePool} (1,048,573 addresses: does not fill)`);
  const rawPrefix = `${ROOT_PREFIX}/raw/`;
  const rawValue = Buffer.from(
    JSON.stringify({
      address: '10.64.255.255/12',
      node: NODE_ID,
      type: 'endpoint',
      req: '0123456789abcdef',
    }),
  );
  let rawSeq = 0;
  const rawOp = async () => {
    const key = Buffer.from(`${rawPrefix}${rawSeq++}`);
    const res = await raw.kv.txn(
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: rawValue } }],
        failure: [{ request_range: { key } }],
      },
      callOptions(),
    );
    if (!res.succeeded) {
      throw new Error(`raw create-if-absent of ${key.toString()} failed`);
    }
  };
  const rateSeen = new Set();
  const addressBody = { PoolID: 'bench-rate', Address: '', Options: null };
  const pluginOp = async () => {
    const r = await call('IpamDriver.RequestAddress', addressBody);
    const address = r.body?.Address;
    if (r.status !== 200 || typeof address !== 'string') {
      throw new Error(`RequestAddress answered ${r.status} ${r.text}`);
    }
    if (rateSeen.has(address)) {
      throw new Error(`address ${address} was handed out twice`);
    }
    rateSeen.add(address);
  };

  // CPU time per operation of each process (from /proc): a figure that load from elsewhere on
  // the machine disturbs far less than throughput, and that says where the time goes.
  const cpuNow = () => ({
    bench: process.cpuUsage(),
    plugin: cpuMs(plugin.pid) ?? NaN,
    etcd: etcd.pid === undefined ? NaN : (cpuMs(etcd.pid) ?? NaN),
  });
  /** @param {ReturnType<typeof cpuNow>} before @param {number} ops */
  const cpuPerOp = (before, ops) => {
    const after = cpuNow();
    const bench = process.cpuUsage(before.bench);
    return {
      bench: (bench.user + bench.system) / ops,
      plugin: ((after.plugin - before.plugin) * 1000) / ops,
      etcd: ((after.etcd - before.etcd) * 1000) / ops,
    };
  };
  /**
   * @param {number} c
   * @param {() => Promise<void>} op
   */
  const measured = async (c, op) => {
    const before = cpuNow();
    const result = await drive({ concurrency: c, durationMs: P.durationMs, op });
    return { ...result, cpuUsPerOp: cpuPerOp(before, result.ops) };
  };

  // The same allocator library in this process, called directly: what the allocator achieves
  // on this etcd with this client, without the plugin's HTTP and Nest layers (a diagnostic).
  const lib = await inProcessAllocator(etcd.endpoints, mainPrefix);
  cleanups.push(() => lib.close());
  const libSeen = new Set();
  const libOp = async () => {
    const address = await lib.requestAddress();
    if (libSeen.has(address)) {
      throw new Error(`address ${address} was handed out twice`);
    }
    libSeen.add(address);
  };
  /** @type {Record<'raw' | 'plugin' | 'lib', () => Promise<void>>} */
  const sides = { raw: rawOp, plugin: pluginOp, lib: libOp };

  // Every client's code path compiled before anything counts. V8 optimizes by call counts, and
  // the plugin runs several times the raw client's code per call (HTTP, Nest, validation, the
  // allocator, and the same etcd3/grpc-js call): warmed at c=16, each side makes thousands of
  // calls in a few seconds (at c=1 the plugin was still compiling after 2 s, its CPU per call
  // 1.6x what it settles at). A plugin on a fleet runs warm; what a cold one costs shows in
  // section 4's cold probes and section 5's first address.
  for (const op of Object.values(sides)) {
    await drive({ concurrency: 16, durationMs: P.jitWarmupMs, op });
  }
  /** @type {Record<string, Record<'raw' | 'plugin' | 'lib', Measured[]>>} */
  const rate = {};
  for (const c of P.concurrencies) {
    rate[c] = { raw: [], plugin: [], lib: [] };
    for (const op of Object.values(sides)) {
      await drive({ concurrency: c, durationMs: P.warmupMs, op });
    }
    for (let round = 0; round < P.rounds; round++) {
      // Interleaved, in a rotating order, so that load from elsewhere hits every side alike.
      /** @type {('raw' | 'plugin' | 'lib')[]} */
      const order = ['raw', 'plugin', 'lib'];
      for (let i = 0; i < order.length; i++) {
        const side = order[(i + round) % order.length] ?? 'raw';
        rate[c][side].push(await measured(c, sides[side]));
      }
    }
    const agg = (/** @type {'raw' | 'plugin' | 'lib'} */ side) => ({
      throughput: median(rate[c][side].map((r) => r.throughput)),
      p50: median(rate[c][side].map((r) => r.latency.p50)),
      p99: median(rate[c][side].map((r) => r.latency.p99)),
      ops: rate[c][side].reduce((s, r) => s + r.ops, 0),
      cpuUsPerOp: {
        bench: median(rate[c][side].map((r) => r.cpuUsPerOp.bench)),
        plugin: median(rate[c][side].map((r) => r.cpuUsPerOp.plugin)),
        etcd: median(rate[c][side].map((r) => r.cpuUsPerOp.etcd)),
      },
    });
    const r = agg('raw');
    const p = agg('plugin');
    const l = agg('lib');
    note(
      `c=${c}: raw ${fmt.ops(r.throughput)} p50 ${fmt.ms(r.p50)} p99 ${fmt.ms(r.p99)} | plugin ${fmt.ops(p.throughput)} p50 ${fmt.ms(p.p50)} p99 ${fmt.ms(p.p99)}`,
    );
    note(
      `      CPU µs per op: raw: bench client ${cpuText(r.cpuUsPerOp.bench)}, etcd ${cpuText(r.cpuUsPerOp.etcd)} | plugin: bench client ${cpuText(p.cpuUsPerOp.bench)}, plugin ${cpuText(p.cpuUsPerOp.plugin)}, etcd ${cpuText(p.cpuUsPerOp.etcd)}`,
    );
    note(
      `      allocator in-process (no HTTP): ${fmt.ops(l.throughput)} p50 ${fmt.ms(l.p50)} p99 ${fmt.ms(l.p99)}; CPU µs per op: bench ${cpuText(l.cpuUsPerOp.bench)}, etcd ${cpuText(l.cpuUsPerOp.etcd)}`,
    );
    results.sections[`rate_c${c}`] = {
      raw: { ...r, rounds: rate[c].raw.map(stripLatencies) },
      plugin: { ...p, rounds: rate[c].plugin.map(stripLatencies) },
      allocatorInProcess: { ...l, rounds: rate[c].lib.map(stripLatencies) },
    };
    const tputTarget = c === 1 ? 0.8 : c === 16 ? 0.8 : undefined;
    const tputRatio = p.throughput / r.throughput;
    figure({
      id: `raw_throughput_c${c}`,
      label: `raw etcd txn throughput, c=${c}`,
      value: r.throughput,
      unit: 'ops',
    });
    figure({
      id: `address_throughput_c${c}`,
      label: `RequestAddress throughput, c=${c}`,
      value: p.throughput,
      unit: 'ops',
      base: r.throughput,
      ratio: tputRatio,
      target:
        tputTarget === undefined ? undefined : `≥ ${tputTarget}${c === 16 ? ' (stretch 1.5)' : ''}`,
      met: tputTarget === undefined ? undefined : tputRatio >= tputTarget,
    });
    figure({
      id: `address_p50_c${c}`,
      label: `RequestAddress p50, c=${c}`,
      value: p.p50,
      unit: 'ms',
      base: r.p50,
      ratio: p.p50 / r.p50,
    });
    const p99Ratio = p.p99 / r.p99;
    figure({
      id: `address_p99_c${c}`,
      label: `RequestAddress p99, c=${c}`,
      value: p.p99,
      unit: 'ms',
      base: r.p99,
      ratio: p99Ratio,
      target: c === 16 ? '≤ 1.5' : undefined,
      met: c === 16 ? p99Ratio <= 1.5 : undefined,
    });
    figure({
      id: `allocator_throughput_c${c}`,
      label: `  allocator in-process (no HTTP), c=${c}`,
      value: l.throughput,
      unit: 'ops',
      base: r.throughput,
      ratio: l.throughput / r.throughput,
    });
    figure({
      id: `allocator_p99_c${c}`,
      label: `  allocator in-process p99, c=${c}`,
      value: l.p99,
      unit: 'ms',
      base: r.p99,
      ratio: l.p99 / r.p99,
    });
  }
  const rawP50c1 = median(rate[1]?.raw.map((r) => r.latency.p50) ?? []);

  // The floor under any plugin call: HTTP over the socket and Nest's routing, no etcd.
  const floorBefore = cpuNow();
  const floor = await drive({
    concurrency: 1,
    durationMs: P.durationMs,
    op: async () => {
      const r = await call('IpamDriver.GetCapabilities');
      if (r.status !== 200) {
        throw new Error(`GetCapabilities answered ${r.status} ${r.text}`);
      }
    },
  });
  const floorCpu = cpuPerOp(floorBefore, floor.ops);
  note(
    `no-etcd floor, GetCapabilities c=1: p50 ${fmt.ms(floor.latency.p50)}; CPU µs per call: bench client ${cpuText(floorCpu.bench)}, plugin ${cpuText(floorCpu.plugin)}`,
  );
  results.sections.floor = { ...stripLatencies(floor), cpuUsPerOp: floorCpu };
  figure({
    id: 'floor_p50_c1',
    label: 'no-etcd call (GetCapabilities) p50, c=1',
    value: floor.latency.p50,
    unit: 'ms',
    base: rawP50c1,
    ratio: floor.latency.p50 / rawP50c1,
  });

  // ---------------------------------------------------------------------- section 3
  await fillCurve(call, rawP50c1);

  // ---------------------------------------------------------------------- IPv6
  await v6Sections({
    call,
    rawOp,
    measured,
    P,
    quick: QUICK,
    figure,
    note,
    section,
    results: results.sections,
  });

  // ---------------------------------------------------------------------- section 4
  await dynamicPools(call, raw, mainPrefix, rawP50c1, lib, rawOp);
  await lib.close();
  const mainRss = plugin.rss();
  if (mainRss !== undefined) {
    results.sections.mainPluginRssMB = mainRss / 2 ** 20;
    note(`plugin RSS after sections 1-4: ${fmt.mb(mainRss / 2 ** 20)}`);
  }
  caller.close();
  livePlugins.delete(plugin);
  await plugin.stop();
}

const PLUGIN_MAIN_REL = 'dist/apps/ipam/src/main.js';

/**
 * @typedef {import('./lib/stats.mjs').DriveResult & {
 *   cpuUsPerOp: { bench: number, plugin: number, etcd: number } }} Measured
 */

/** @param {import('./lib/stats.mjs').DriveResult & { cpuUsPerOp?: object }} r */
function stripLatencies(r) {
  return {
    ops: r.ops,
    elapsedMs: r.elapsedMs,
    throughput: r.throughput,
    latency: r.latency,
    cpuUsPerOp: r.cpuUsPerOp,
  };
}

/** @param {number} us */
function cpuText(us) {
  return Number.isFinite(us) ? `${Math.round(us)}` : 'n/a';
}

/**
 * The plugin's own AddressAllocator (built, from dist/) in this process with its own NODE_ID,
 * Nest's logger off: a pool of its own and a direct call per allocation.
 * @param {string[]} endpoints
 * @param {string} prefix
 */
async function inProcessAllocator(endpoints, prefix) {
  await import('reflect-metadata');
  const { NestFactory } = await import('@nestjs/core');
  const { Module } = await import('@nestjs/common');
  const { IpamConfigModule } = await import('../dist/libs/config/src/index.js');
  const { AllocatorModule, AddressAllocator, PoolAllocator } =
    await import('../dist/libs/allocator/src/index.js');
  const { Prefix } = await import('../dist/libs/net/src/index.js');
  class InProcess {}
  Module({
    imports: [
      IpamConfigModule.forRoot({
        NODE_ID: 'bench-lib',
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_PREFIX: prefix,
        KONTENA_IPAM_AVOID_HOST_ROUTES: 'false',
      }),
      AllocatorModule,
    ],
  })(InProcess);
  const app = await NestFactory.createApplicationContext(InProcess, { logger: false });
  await app
    .get(PoolAllocator)
    .requestPool({ network: 'bench-lib', subnet: Prefix.parse('10.32.0.0/12'), v6: false });
  const addresses = app.get(AddressAllocator);
  const pools = app.get(PoolAllocator);
  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    requestAddress: async () =>
      (await addresses.requestAddress({ poolId: 'bench-lib', gateway: false })).address,
    requestPool: async (/** @type {string} */ network) =>
      (await pools.requestPool({ network, v6: false })).pool,
    releasePool: (/** @type {string} */ id) => pools.releasePool(id),
    close: () => (closing ??= app.close()),
  };
}

/**
 * The handshake dockerd makes before its first call.
 * @param {ReturnType<typeof pluginCaller>['call']} call
 */
async function handshake(call) {
  for (const method of [
    'Plugin.Activate',
    'IpamDriver.GetCapabilities',
    'IpamDriver.GetDefaultAddressSpaces',
  ]) {
    const r = await call(method);
    if (r.status !== 200) {
      throw new Error(`${method} answered ${r.status} ${r.text}`);
    }
  }
}

/**
 * RequestPool as `docker network create --ipam-opt network=NAME [--subnet POOL]` sends it.
 * @param {ReturnType<typeof pluginCaller>['call']} call
 * @param {{ network: string, pool?: string }} p
 * @returns {Promise<string>} the pool's subnet
 */
async function requestPool(call, p) {
  const r = await call('IpamDriver.RequestPool', {
    AddressSpace: 'kontenaglobal',
    Pool: p.pool ?? '',
    SubPool: '',
    Options: { network: p.network },
    V6: false,
  });
  const pool = r.body?.Pool;
  if (r.status !== 200 || typeof pool !== 'string') {
    throw new Error(`RequestPool ${p.network} answered ${r.status} ${r.text}`);
  }
  return pool;
}

/**
 * Section 3: fills a pool completely through the socket at a fixed concurrency, with sequential
 * probes of `probes` allocations centred on 1 %, 50 % and 99 % fill.
 * @param {ReturnType<typeof pluginCaller>['call']} call
 * @param {number} rawP50
 */
async function fillCurve(call, rawP50) {
  const len = P.fillPrefix;
  const subnet = `10.100.0.0/${len}`;
  const total = 2 ** (32 - len) - 3; // less network, broadcast and gateway
  section(`3. fill curve of a /${len} (${fmt.count(total)} addresses)`);
  await requestPool(call, { network: 'bench-fill', pool: subnet });
  note(
    `pool bench-fill ${subnet}; bulk allocations at c=${P.fillConcurrency}, ${P.probes} sequential probes around each fill level`,
  );
  const body = { PoolID: 'bench-fill', Address: '', Options: null };
  const seen = new Set();
  let exhausted = false;
  let claimed = 0;
  const allocate = async () => {
    const r = await call('IpamDriver.RequestAddress', body);
    const address = r.body?.Address;
    if (r.status === 200 && typeof address === 'string') {
      if (seen.has(address)) {
        throw new Error(`address ${address} was handed out twice`);
      }
      seen.add(address);
      return;
    }
    const err = r.body?.Err;
    if (r.status === 400 && typeof err === 'string' && /no addresses available/.test(err)) {
      exhausted = true;
      claimed--;
      return;
    }
    throw new Error(`RequestAddress in bench-fill answered ${r.status} ${r.text}`);
  };
  const bulk = async (/** @type {number} */ target) =>
    drive({
      concurrency: P.fillConcurrency,
      shouldStop: () => exhausted || claimed >= target,
      op: async () => {
        claimed++;
        await allocate();
      },
    });

  const levels = [0.01, 0.5, 0.99];
  /** @type {Record<string, import('./lib/stats.mjs').Summary & { fillFrom: number, fillTo: number }>} */
  const probes = {};
  const t0 = performance.now();
  for (const level of levels) {
    await bulk(Math.max(0, Math.round(level * total) - P.probes / 2));
    const from = seen.size;
    const probe = await drive({
      concurrency: 1,
      shouldStop: () => exhausted || claimed >= from + P.probes,
      op: async () => {
        claimed++;
        await allocate();
      },
    });
    probes[String(level)] = {
      ...probe.latency,
      fillFrom: from / total,
      fillTo: seen.size / total,
    };
    note(
      `at ${(level * 100).toFixed(0)} % fill (${fmt.count(from)}–${fmt.count(seen.size)}): p50 ${fmt.ms(probe.latency.p50)} p99 ${fmt.ms(probe.latency.p99)}`,
    );
  }
  await bulk(Infinity);
  const fillSeconds = (performance.now() - t0) / 1000;
  if (seen.size !== total || !exhausted) {
    throw new Error(
      `bench-fill: ${seen.size} addresses allocated, expected ${total} (exhausted: ${exhausted})`,
    );
  }
  note(
    `filled in ${fmt.s(fillSeconds)} (${fmt.ops(total / fillSeconds)}), then "no addresses available"`,
  );
  results.sections.fill = { subnet, total, probes, fillSeconds };
  const at1 = probes['0.01'];
  const at50 = probes['0.5'];
  const at99 = probes['0.99'];
  if (!at1 || !at50 || !at99) {
    throw new Error('fill probes missing');
  }
  const full = len === FULL.fillPrefix;
  figure({
    id: 'fill_p50_1',
    label: `allocation p50 at 1% fill, /${len}`,
    value: at1.p50,
    unit: 'ms',
    base: rawP50,
    baseLabel: 'raw c=1 p50',
    ratio: at1.p50 / rawP50,
  });
  figure({
    id: 'fill_p50_50',
    label: `allocation p50 at 50% fill, /${len}`,
    value: at50.p50,
    unit: 'ms',
    base: at1.p50,
    baseLabel: '@1%',
    ratio: at50.p50 / at1.p50,
  });
  const ratio = at99.p50 / at1.p50;
  figure({
    id: 'fill_p50_99',
    label: `allocation p50 at 99% fill, /${len}`,
    value: at99.p50,
    unit: 'ms',
    base: at1.p50,
    baseLabel: '@1%',
    ratio,
    target: '≤ 1.5',
    met: full ? ratio <= 1.5 : null,
  });
  figure({
    id: 'fill_time',
    label: `time to fill a /${len} completely, c=${P.fillConcurrency}`,
    value: fillSeconds,
    unit: 's',
  });
}

/**
 * Section 4: dynamic RequestPool with `P.pools` pools present (written straight into etcd with
 * the plugin's key layout, owned by another node). Each probe creates a named dynamic pool and
 * releases it again (not timed), so the count stays put.
 * @param {ReturnType<typeof pluginCaller>['call']} call
 * @param {import('etcd3').Etcd3} raw
 * @param {string} prefix
 * @param {number} rawP50
 * @param {Awaited<ReturnType<typeof inProcessAllocator>>} lib
 * @param {() => Promise<void>} rawOp  section 2's raw create-if-absent transaction
 */
async function dynamicPools(call, raw, prefix, rawP50, lib, rawOp) {
  section(`4. dynamic RequestPool with ${fmt.count(P.pools)} pools present`);
  const keys = new KeyLayout(prefix);
  const entries = [];
  for (let i = 0; i < P.pools; i++) {
    const subnet = `10.${80 + Math.floor(i / 256)}.${i % 256}.0/24`;
    entries.push(
      ...poolEntries(keys, {
        id: `bench-pre-${String(i).padStart(4, '0')}`,
        subnet,
        node: OTHER_NODE,
      }),
    );
  }
  await putBatched(raw, entries);
  const present = await countPrefix(raw, keys.poolsPrefix);
  note(
    `${fmt.count(present)} pools in etcd (${fmt.count(P.pools)} /24s of 10.80.0.0/12 preloaded, plus sections 2-3's)`,
  );
  const probe = async (/** @type {number} */ i) => {
    // A raw transaction at the same cadence: a lone call after others, not one of a loop.
    const tr = performance.now();
    await rawOp();
    const rawMs = performance.now() - tr;
    const t0 = performance.now();
    const r = await call('IpamDriver.RequestPool', {
      AddressSpace: 'kontenaglobal',
      Pool: '',
      SubPool: '',
      Options: { network: `bench-dyn-${i}` },
      V6: false,
    });
    const ms = performance.now() - t0;
    if (r.status !== 200 || typeof r.body?.Pool !== 'string') {
      throw new Error(`dynamic RequestPool answered ${r.status} ${r.text}`);
    }
    const released = await call('IpamDriver.ReleasePool', { PoolID: `bench-dyn-${i}` });
    if (released.status !== 200) {
      throw new Error(`ReleasePool answered ${released.status} ${released.text}`);
    }
    return { ms, rawMs, pool: r.body.Pool };
  };
  // Warm-up as long as the measurement: the raw figure it is compared with is taken on a client
  // warmed for seconds, and RequestPool's own code (not section 2's) runs only here. The cold
  // probes are reported too: a real `docker network create` meets that code cold.
  const cold = [];
  for (let i = 0; i < P.poolProbes; i++) {
    cold.push((await probe(-1 - i)).ms);
  }
  const latencies = [];
  const rawAlongside = [];
  let pool = '';
  for (let i = 0; i < P.poolProbes; i++) {
    const r = await probe(i);
    latencies.push(r.ms);
    rawAlongside.push(r.rawMs);
    pool = r.pool;
  }
  const s = summarize(latencies);
  const rs = summarize(rawAlongside);
  const first = summarize(cold.slice(0, 3));
  note(
    `${P.poolProbes} × RequestPool {"Options":{"network":…}} → ${pool}: p50 ${fmt.ms(s.p50)} p99 ${fmt.ms(s.p99)} (after ${P.poolProbes} warm-up probes; the first 3 cold: median ${fmt.ms(first.p50)})`,
  );
  note(
    `raw create-if-absent txn timed just before each probe: p50 ${fmt.ms(rs.p50)} (the RequestPool p50 is ${(s.p50 / rs.p50).toFixed(2)} × that; section 2's back-to-back c=1 p50 was ${fmt.ms(rawP50)})`,
  );
  results.sections.dynamicPool = {
    pools: present,
    latency: s,
    subnet: pool,
    cold: cold,
    rawAlongside: rs,
  };
  const ratio = s.p50 / rawP50;
  figure({
    id: 'dynamic_pool_p50',
    label: `dynamic RequestPool p50, ${fmt.count(P.pools)} pools`,
    value: s.p50,
    unit: 'ms',
    base: rawP50,
    baseLabel: 'raw c=1 p50',
    ratio,
    target: '≤ 3',
    met: P.pools === FULL.pools ? ratio <= 3 : null,
  });

  figure({
    id: 'dynamic_pool_p50_vs_raw_alongside',
    label: `  RequestPool p50 / raw txn p50 at the same cadence`,
    value: s.p50,
    unit: 'ms',
    base: rs.p50,
    baseLabel: 'raw alongside',
    ratio: s.p50 / rs.p50,
  });

  // The same through the allocator library in this process (no HTTP), as in section 2.
  const libLatencies = [];
  for (let i = -P.poolProbes; i < P.poolProbes; i++) {
    const t0 = performance.now();
    await lib.requestPool(`bench-lib-dyn-${i}`);
    const ms = performance.now() - t0;
    await lib.releasePool(`bench-lib-dyn-${i}`);
    if (i >= 0) {
      libLatencies.push(ms);
    }
  }
  const ls = summarize(libLatencies);
  note(`allocator in-process (no HTTP): p50 ${fmt.ms(ls.p50)} p99 ${fmt.ms(ls.p99)}`);
  results.sections.dynamicPool = { ...results.sections.dynamicPool, allocatorInProcess: ls };
  figure({
    id: 'allocator_dynamic_pool_p50',
    label: `  allocator in-process RequestPool p50`,
    value: ls.p50,
    unit: 'ms',
    base: rawP50,
    baseLabel: 'raw c=1 p50',
    ratio: ls.p50 / rawP50,
  });
}

/**
 * Section 5: a fresh plugin process with `P.startupAddresses` addresses in one pool: time from
 * spawn to /readyz 200 and to the first RequestAddress in that pool (which loads its feed), and
 * its RSS after that.
 * @param {string[]} endpoints
 * @param {import('etcd3').Etcd3} raw
 */
async function startup(endpoints, raw) {
  const n = P.startupAddresses;
  section(`5. start-up with ${fmt.count(n)} addresses in etcd`);
  const prefix = `${ROOT_PREFIX}/startup`;
  const keys = new KeyLayout(prefix);
  const subnet = '10.112.0.0/15';
  const t0 = performance.now();
  await putBatched(raw, [
    ...poolEntries(keys, { id: 'bench-start', subnet, node: NODE_ID }),
    ...addressEntries(keys, { id: 'bench-start', subnet, node: NODE_ID, count: n }),
  ]);
  const stored = await countPrefix(raw, keys.addressesOf('bench-start'));
  note(
    `preloaded ${fmt.count(stored)} address keys into pool bench-start ${subnet} in ${fmt.s((performance.now() - t0) / 1000)} (transactions of 128 puts)`,
  );
  const plugin = await spawnPlugin({ endpoints, prefix, nodeId: NODE_ID });
  try {
    await waitReady(plugin);
    const readyz = performance.now() - plugin.spawnedAt;
    const caller = pluginCaller(plugin.socketPath, 1);
    const r = await caller.call('IpamDriver.RequestAddress', {
      PoolID: 'bench-start',
      Address: '',
      Options: null,
    });
    const first = performance.now() - plugin.spawnedAt;
    caller.close();
    if (r.status !== 200) {
      throw new Error(`first RequestAddress answered ${r.status} ${r.text}`);
    }
    const rss = (plugin.rss() ?? NaN) / 2 ** 20;
    note(
      `spawn → /readyz 200: ${fmt.s(readyz / 1000)}; → first RequestAddress (${String(r.body?.Address)}): ${fmt.s(first / 1000)}; RSS ${fmt.mb(rss)}`,
    );
    results.sections.startup = {
      addresses: stored,
      readyzSeconds: readyz / 1000,
      readySeconds: first / 1000,
      rssMB: rss,
    };
    const full = n === FULL.startupAddresses;
    figure({
      id: 'startup_ready',
      label: `start-up to ready (first address), ${fmt.count(n)} addresses`,
      value: first / 1000,
      unit: 's',
      target: '≤ 3 s',
      met: full ? first / 1000 <= 3 : null,
    });
    figure({
      id: 'startup_rss',
      label: `plugin RSS, ${fmt.count(n)} addresses`,
      value: rss,
      unit: 'mb',
      target: '≤ 200 MB',
      met: full ? rss <= 200 : null,
    });
  } catch (e) {
    console.error(plugin.logTail());
    throw e;
  } finally {
    await plugin.stop();
  }
}

/** gRPC's default limit for one message: a reply of etcd larger than this fails to arrive. */
const GRPC_MESSAGE_LIMIT = 4 * 2 ** 20;

/**
 * Section 6: passes of bin/kontena-ipam-cleanup over orphans of this node in one pool that
 * Docker does not know (a fake Docker API with no networks): `P.cleanupAddresses`, and
 * `P.cleanupLargePool`, more than one gRPC message of etcd can carry, so the pass must read the
 * pool in pages.
 * @param {string[]} endpoints
 * @param {import('etcd3').Etcd3} raw
 */
async function cleanupPasses(endpoints, raw) {
  await cleanupPass(endpoints, raw, {
    n: P.cleanupAddresses,
    id: 'cleanup_pass',
    section: 'cleanup',
    target: 5,
    judged: P.cleanupAddresses === FULL.cleanupAddresses,
  });
  await cleanupPass(endpoints, raw, {
    n: P.cleanupLargePool,
    id: 'cleanup_pass_large_pool',
    section: 'cleanupLargePool',
    target: 30,
    judged: P.cleanupLargePool === FULL.cleanupLargePool,
  });
}

/**
 * One pass over `run.n` orphan addresses of this node in pool bench-clean (a /16).
 * @param {string[]} endpoints
 * @param {import('etcd3').Etcd3} raw
 * @param {{ n: number, id: string, section: string, target: number, judged: boolean }} run
 */
async function cleanupPass(endpoints, raw, run) {
  const { n } = run;
  const label = `cleanup pass, ${fmt.count(n)} addresses in one pool`;
  const target = `≤ ${run.target} s`;
  section(`6. cleanup pass over ${fmt.count(n)} addresses in one pool`);
  const bin = join(ROOT, 'bin/kontena-ipam-cleanup');
  const built = join(ROOT, 'dist/apps/cleanup');
  if (!existsSync(built) || !existsSync(bin)) {
    note('n/a (cleanup app not built): bin/kontena-ipam-cleanup or dist/apps/cleanup is missing');
    results.sections[run.section] = { skipped: 'cleanup app not built' };
    figure({ id: run.id, label, value: NaN, unit: 's', target, met: undefined });
    return;
  }
  const prefix = `${ROOT_PREFIX}/${run.id}`;
  const keys = new KeyLayout(prefix);
  const subnet = '10.120.0.0/16';
  const addresses = [
    ...addressEntries(keys, { id: 'bench-clean', subnet, node: NODE_ID, count: n }),
  ];
  await putBatched(raw, [
    ...poolEntries(keys, { id: 'bench-clean', subnet, node: NODE_ID }),
    ...addresses,
  ]);
  const bytes = addresses.reduce((sum, [key, value]) => sum + key.length + value.length, 0);
  const before = await countPrefix(raw, keys.addressesOf('bench-clean'));
  const { dir } = tempDir('kipam-bench-docker');
  const docker = await startFakeDocker(join(dir, 'docker.sock'));
  note(
    `${fmt.count(before)} addresses of node ${NODE_ID} in pool bench-clean, ${(bytes / 2 ** 20).toFixed(1)} MiB of keys and values (${bytes > GRPC_MESSAGE_LIMIT ? 'more' : 'less'} than one 4 MiB gRPC message); DOCKER_HOST is a FAKE Docker API with no networks (benchmark only: measures the pass's etcd work)`,
  );
  try {
    let quiesce = 0;
    let pass = await runCleanup(bin, endpoints, prefix, docker.host, quiesce);
    if (pass.code === 2 && /quiesce/i.test(pass.output)) {
      quiesce = 1; // the app may not take 0: time the pass with the shortest wait, less that wait
      pass = await runCleanup(bin, endpoints, prefix, docker.host, quiesce);
    }
    if (pass.code !== 0) {
      throw new Error(`cleanup exited ${pass.code}:\n${pass.output.slice(-3000)}`);
    }
    const after = await countPrefix(raw, keys.addressesOf('bench-clean'));
    const seconds = pass.ms / 1000 - quiesce;
    note(
      `pass (process start to exit${quiesce ? `, less --quiesce ${quiesce}` : ', --quiesce 0'}): ${fmt.s(seconds)}; ${fmt.count(before - after)} address keys deleted, ${fmt.count(after)} left`,
    );
    results.sections[run.section] = {
      addresses: before,
      bytes,
      deleted: before - after,
      seconds,
      quiesce,
      dockerRequests: docker.requests(),
    };
    figure({
      id: run.id,
      label,
      value: seconds,
      unit: 's',
      target,
      met: run.judged ? seconds <= run.target : null,
    });
  } finally {
    await docker.close();
    removeDir(dir);
  }
}

/**
 * @param {string} bin
 * @param {string[]} endpoints
 * @param {string} prefix
 * @param {string} dockerHost
 * @param {number} quiesce
 * @returns {Promise<{ code: number | string, ms: number, output: string }>}
 */
function runCleanup(bin, endpoints, prefix, dockerHost, quiesce) {
  const args = [
    '--quiesce',
    String(quiesce),
    '--json',
    '--pool',
    'bench-clean',
    '--driver',
    'kipam-bench',
  ];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        NODE_ID,
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_PREFIX: prefix,
        DOCKER_HOST: dockerHost,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b) => (output += b.toString()));
    child.stderr.on('data', (b) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', ms: performance.now() - t0, output });
    });
  });
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`\nbenchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  for (const plugin of livePlugins) {
    console.error(
      `\nplugin pid ${plugin.pid} (${plugin.running() ? 'running' : 'exited'}), end of its log:\n${plugin.logTail()}`,
    );
  }
} finally {
  for (const cleanup of cleanups.toReversed()) {
    await cleanup().catch((/** @type {unknown} */ e) => {
      console.error(`cleanup: ${e instanceof Error ? e.message : String(e)}`);
    });
  }
}
process.exit(failed ? 1 : 0);
