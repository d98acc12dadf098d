// node bench/metrics-cost.mjs [--rounds N] [--seconds S]: what the metrics cost the allocation
// path. Two plugins on one etcd, one recording its metrics and one started with
// KONTENA_IPAM_METRICS_RECORDING=false, driven in turn (interleaved, the order alternating) with
// RequestAddress at c=16, as the bench's section 1-2 drives one. Run under
// `flock /tmp/kipam-bench.lock` after `npm run build`.
import { parseArgs } from 'node:util';

import { startEtcd } from './lib/etcd.mjs';
import { pluginCaller, spawnPlugin, waitReady } from './lib/plugin.mjs';
import { cpuMs } from './lib/proc.mjs';
import { drive, median } from './lib/stats.mjs';

const { values: argv } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
  },
});
const ROUNDS = Number(argv.rounds);
const DURATION_MS = Number(argv.seconds) * 1000;
const CONCURRENCY = 16;
const PREFIX = `/bench-metrics-${Date.now().toString(36)}`;

const etcd = await startEtcd();
/** @type {(() => Promise<unknown>)[]} */
const cleanups = [];
try {
  /** @type {Record<'on' | 'off', { op: () => Promise<void>, pid: number }>} */
  const sides = {
    on: await side('on', { KONTENA_IPAM_METRICS_RECORDING: 'true' }),
    off: await side('off', { KONTENA_IPAM_METRICS_RECORDING: 'false' }),
  };
  // Both compiled and warm before anything counts.
  for (const { op } of Object.values(sides)) {
    await drive({ concurrency: CONCURRENCY, durationMs: 3_000, op });
  }
  /** @type {Record<'on' | 'off', number[]>} */
  const rates = { on: [], off: [] };
  /** The plugin's CPU per call (µs, from /proc): what load from elsewhere disturbs far less. */
  /** @type {Record<'on' | 'off', number[]>} */
  const cpu = { on: [], off: [] };
  for (let round = 0; round < ROUNDS; round++) {
    /** @type {('on' | 'off')[]} */
    const order = round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const name of order) {
      const { op, pid } = sides[name];
      const before = cpuMs(pid) ?? NaN;
      const r = await drive({ concurrency: CONCURRENCY, durationMs: DURATION_MS, op });
      rates[name].push(r.throughput);
      cpu[name].push((((cpuMs(pid) ?? NaN) - before) * 1000) / r.ops);
    }
    console.log(
      `round ${round + 1}: metrics on ${rates.on.at(-1)?.toFixed(0)} /s ${cpu.on.at(-1)?.toFixed(0)} µs CPU/call, ` +
        `off ${rates.off.at(-1)?.toFixed(0)} /s ${cpu.off.at(-1)?.toFixed(0)} µs CPU/call`,
    );
  }
  const on = median(rates.on);
  const off = median(rates.off);
  console.log(
    `RequestAddress c=${CONCURRENCY}, ${ROUNDS} interleaved rounds of ${DURATION_MS / 1000} s, medians: ` +
      `metrics on ${on.toFixed(0)} /s, off ${off.toFixed(0)} /s: on/off = ${(on / off).toFixed(3)} ` +
      `(${((1 - on / off) * 100).toFixed(1)} % cost); plugin CPU per call ` +
      `${median(cpu.on).toFixed(0)} µs on, ${median(cpu.off).toFixed(0)} µs off`,
  );
} finally {
  for (const cleanup of cleanups.toReversed()) {
    await cleanup().catch(() => undefined);
  }
  await etcd.stop?.();
}

/**
 * One plugin with its own prefix and NODE_ID, a pool of a /12, and the RequestAddress op that
 * drives it (checking that no address is handed out twice).
 * @param {string} name
 * @param {Record<string, string>} env
 */
async function side(name, env) {
  const plugin = await spawnPlugin({
    endpoints: etcd.endpoints,
    prefix: `${PREFIX}/${name}`,
    nodeId: `bench-metrics-${name}`,
    env,
  });
  cleanups.push(() => plugin.stop());
  await waitReady(plugin);
  const caller = pluginCaller(plugin.socketPath, CONCURRENCY);
  cleanups.push(async () => caller.close());
  const pool = await caller.call('IpamDriver.RequestPool', {
    AddressSpace: 'kontenaglobal',
    Pool: '10.64.0.0/12',
    SubPool: '',
    Options: { network: 'bench-metrics' },
    V6: false,
  });
  if (pool.status !== 200) {
    throw new Error(`RequestPool answered ${pool.status} ${pool.text}`);
  }
  const seen = new Set();
  const body = { PoolID: 'bench-metrics', Address: '', Options: null };
  return {
    pid: plugin.pid,
    op: async () => {
      const r = await caller.call('IpamDriver.RequestAddress', body);
      const address = r.body?.Address;
      if (r.status !== 200 || typeof address !== 'string' || seen.has(address)) {
        throw new Error(`RequestAddress answered ${r.status} ${r.text} (or an address twice)`);
      }
      seen.add(address);
    },
  };
}
