// The IPv6 figures of npm run bench: RequestAddress in a /64 against the same raw etcd
// transaction, and the fill curve of a /64 (libs/allocator/src/sequential-view.ts).
import { drive, median } from './stats.mjs';

/**
 * @typedef {object} V6Context
 * @property {ReturnType<import('./plugin.mjs').pluginCaller>['call']} call
 * @property {() => Promise<void>} rawOp  the raw create-if-absent transaction of sections 1-2
 * @property {(c: number, op: () => Promise<void>) => Promise<import('./stats.mjs').DriveResult>} measured
 * @property {{ concurrencies: number[], rounds: number, durationMs: number, warmupMs: number,
 *   v6Fill: number, v6FillProbes: number, fillConcurrency: number }} P
 * @property {boolean} quick
 * @property {(f: object) => unknown} figure
 * @property {(text: string) => void} note
 * @property {(text: string) => void} section
 * @property {Record<string, unknown>} results  results.sections
 */

/**
 * RequestPool of a dual-stack network's IPv6 pool, as dockerd sends it after the IPv4 one.
 * @param {V6Context['call']} call
 * @param {string} network
 * @param {string} pool
 */
async function requestPool6(call, network, pool) {
  const r = await call('IpamDriver.RequestPool', {
    AddressSpace: 'kontenaglobal',
    Pool: pool,
    SubPool: '',
    Options: { network },
    V6: true,
  });
  if (r.status !== 200 || r.body?.PoolID !== `${network}:v6`) {
    throw new Error(`RequestPool ${network} (V6) answered ${r.status} ${r.text}`);
  }
}

/**
 * A RequestAddress of `poolId` that fails on an error or an address handed out twice.
 * @param {V6Context['call']} call
 * @param {string} poolId
 * @param {Set<string>} seen
 */
function allocator(call, poolId, seen) {
  const body = { PoolID: poolId, Address: '', Options: null };
  return async () => {
    const r = await call('IpamDriver.RequestAddress', body);
    const address = r.body?.Address;
    if (r.status !== 200 || typeof address !== 'string') {
      throw new Error(`RequestAddress in ${poolId} answered ${r.status} ${r.text}`);
    }
    if (seen.has(address)) {
      throw new Error(`address ${address} was handed out twice`);
    }
    seen.add(address);
  };
}

/** @param {V6Context} ctx */
export async function v6Sections(ctx) {
  await v6Rate(ctx);
  if (ctx.quick) {
    ctx.note('IPv6 fill curve: skipped in --quick');
  } else {
    await v6Fill(ctx);
  }
}

/**
 * RequestAddress in a /64 at c=1 and c=16, interleaved with the raw transaction in rotating
 * order like sections 1-2, medians of the rounds.
 * @param {V6Context} ctx
 */
async function v6Rate({ call, rawOp, measured, P, figure, note, section, results }) {
  section('IPv6: raw etcd create-if-absent txn vs RequestAddress in a /64');
  await requestPool6(call, 'bench-rate6', 'fd00:be:1::/64');
  const op = allocator(call, 'bench-rate6:v6', new Set());
  await drive({ concurrency: 16, durationMs: P.warmupMs * 2, op });
  for (const c of [1, 16]) {
    await drive({ concurrency: c, durationMs: P.warmupMs, op });
    /** @type {{ raw: import('./stats.mjs').DriveResult[], plugin: import('./stats.mjs').DriveResult[] }} */
    const runs = { raw: [], plugin: [] };
    for (let round = 0; round < P.rounds; round++) {
      const order = round % 2 === 0 ? ['raw', 'plugin'] : ['plugin', 'raw'];
      for (const side of order) {
        runs[side].push(await measured(c, side === 'raw' ? rawOp : op));
      }
    }
    const raw = median(runs.raw.map((r) => r.throughput));
    const plugin = median(runs.plugin.map((r) => r.throughput));
    const p99 = median(runs.plugin.map((r) => r.latency.p99));
    const ratio = plugin / raw;
    note(
      `c=${c}: raw ${Math.round(raw)} /s | RequestAddress (IPv6 /64) ${Math.round(plugin)} /s p99 ${p99.toFixed(2)} ms`,
    );
    results[`v6_rate_c${c}`] = { raw, plugin, p99, ratio };
    figure({
      id: `v6_address_throughput_c${c}`,
      label: `IPv6 RequestAddress in a /64, c=${c}`,
      value: plugin,
      unit: 'ops',
      base: raw,
      ratio,
      target: '≥ 0.8',
      met: ratio >= 0.8,
    });
  }
}

/**
 * The fill curve of a /64: p50 of the first `v6FillProbes` sequential allocations, then
 * `v6Fill` allocations at c=16, then `v6FillProbes` more sequential ones.
 * @param {V6Context} ctx
 */
async function v6Fill({ call, P, figure, note, section, results }) {
  section(`IPv6: fill curve of a /64, ${P.v6Fill.toLocaleString('en-US')} allocations`);
  await requestPool6(call, 'bench-fill6', 'fd00:be:2::/64');
  const seen = new Set();
  const op = allocator(call, 'bench-fill6:v6', seen);
  const probe = () =>
    drive({ concurrency: 1, shouldStop: () => seen.size >= from + P.v6FillProbes, op });
  let from = 0;
  const first = await probe();
  const t0 = performance.now();
  await drive({ concurrency: P.fillConcurrency, shouldStop: () => seen.size >= P.v6Fill, op });
  const bulkSeconds = (performance.now() - t0) / 1000;
  from = seen.size;
  const last = await probe();
  const ratio = last.latency.p50 / first.latency.p50;
  note(
    `first ${P.v6FillProbes}: p50 ${first.latency.p50.toFixed(2)} ms; after ${from.toLocaleString('en-US')}: p50 ${last.latency.p50.toFixed(2)} ms (bulk at c=${P.fillConcurrency}: ${Math.round((from - P.v6FillProbes) / bulkSeconds)} /s)`,
  );
  results.v6_fill = { first: first.latency, last: last.latency, allocated: seen.size, bulkSeconds };
  figure({
    id: 'v6_fill_p50',
    label: `IPv6 allocation p50 after ${from.toLocaleString('en-US')} in a /64`,
    value: last.latency.p50,
    unit: 'ms',
    base: first.latency.p50,
    baseLabel: `first ${P.v6FillProbes}`,
    ratio,
    target: '≤ 1.5',
    met: ratio <= 1.5,
  });
}
