// Latency statistics and a closed-loop load driver.

/**
 * @typedef {object} Summary
 * @property {number} count
 * @property {number} p50   milliseconds
 * @property {number} p99   milliseconds
 * @property {number} mean  milliseconds
 * @property {number} max   milliseconds
 */

/**
 * @param {ArrayLike<number>} values  latencies in milliseconds
 * @returns {Summary}
 */
export function summarize(values) {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) {
    return { count: 0, p50: NaN, p99: NaN, mean: NaN, max: NaN };
  }
  let sum = 0;
  for (const v of sorted) {
    sum += v;
  }
  return {
    count: n,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    mean: sum / n,
    max: sorted[n - 1] ?? NaN,
  };
}

/**
 * Nearest-rank quantile of sorted values.
 * @param {Float64Array} sorted
 * @param {number} q
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) {
    return NaN;
  }
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

/** @param {number[]} values */
export function median(values) {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) {
    return NaN;
  }
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1
    ? (finite[mid] ?? NaN)
    : ((finite[mid - 1] ?? NaN) + (finite[mid] ?? NaN)) / 2;
}

/**
 * @typedef {object} DriveResult
 * @property {number} ops        completed operations
 * @property {number} elapsedMs  wall time from the first start to the last completion
 * @property {number} throughput operations per second
 * @property {Summary} latency
 * @property {number[]} latencies
 */

/**
 * Runs `op` from `concurrency` closed-loop workers until `durationMs` has passed (or `shouldStop`
 * says so before an operation starts), timing each operation.
 * @param {{ concurrency: number, durationMs?: number, shouldStop?: () => boolean,
 *   op: () => Promise<unknown> }} opts
 * @returns {Promise<DriveResult>}
 */
export async function drive(opts) {
  const latencies = [];
  const start = performance.now();
  const end = opts.durationMs === undefined ? Infinity : start + opts.durationMs;
  const worker = async () => {
    for (;;) {
      if (opts.shouldStop?.() === true) {
        return;
      }
      const t0 = performance.now();
      if (t0 >= end) {
        return;
      }
      await opts.op();
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const elapsedMs = performance.now() - start;
  return {
    ops: latencies.length,
    elapsedMs,
    throughput: (latencies.length * 1000) / elapsedMs,
    latency: summarize(latencies),
    latencies,
  };
}
