// The fleet benchmark's figures: from the raw samples of one run to one row per figure, and the
// table across fleet sizes.
import { clusterDelta } from './etcd-cluster.mjs';
import { summarize } from './stats.mjs';

/** The fleet size the targets are stated for. */
const TARGET_HOSTS = 100;
const MB = 2 ** 20;

/**
 * @typedef {object} FleetFigure
 * @property {string} id
 * @property {string} label
 * @property {number} value
 * @property {'count' | 'ops' | 'ms' | 'ratio' | 'mb' | 'pct' | 'bytes' | 'us'} unit
 * @property {string} [target]
 * @property {(v: number) => boolean} [meets]
 * @property {string} [text]  how to print it, when not by its unit
 */

/** @typedef {{ at: number, etcd: import('./etcd-cluster.mjs').MemberSample[], workers: any[] }} Sample */

/**
 * @typedef {object} PlanResult  a worker's answer to runPlan
 * @property {{ steady: number[], deploy: number[] }} latency
 * @property {number[]} lag
 * @property {number[]} releases
 * @property {number} inWindow
 */

/**
 * @typedef {object} RunInput  what runFleet gathered
 * @property {number} n
 * @property {{ windowMs: number, burstPerHost: number, joinAddresses: number }} params
 * @property {{ start: number[], end: number[] }} load
 * @property {{ version: string, tmpfs: boolean, dataDir: string }} cluster
 * @property {number} workers
 * @property {{ throughput: number, p99: number, etcdCpuUsPerTxn: number }} ceiling
 * @property {import('./stats.mjs').Summary} alongside  raw transactions timed during the window
 * @property {number} setupSeconds
 * @property {unknown[]} setup
 * @property {{ ready: any, memory: any }[]} memory
 * @property {[Sample, Sample]} idle
 * @property {unknown[]} plan
 * @property {PlanResult[]} planResults
 * @property {[Sample, Sample]} window
 * @property {{ latency: number[], lastDone: number }[]} bursts
 * @property {number} burstAt
 * @property {[Sample, Sample]} burstWindow
 * @property {{ joinToFirstAddressMs: number, bootMs: number }} join
 * @property {ReturnType<typeof import('./fleet-check.mjs').verifyFleet>} verdict
 * @property {Sample} end
 * @property {string[]} problems
 */

/**
 * The workers' counters summed, `b` less `a` (a may be undefined: from zero).
 * @param {Sample | undefined} a
 * @param {Sample} b
 */
function counterDelta(a, b) {
  /** @type {Record<string, number>} */
  const out = {};
  /** @type {Record<string, [number, number]>} */
  const byPool = {};
  const add = (/** @type {any} */ w, /** @type {number} */ sign) => {
    for (const [k, v] of Object.entries(w.counters)) {
      if (typeof v === 'number') {
        out[k] = (out[k] ?? 0) + sign * v;
      }
    }
    /** @type {[string, [number, number]][]} */
    const pools = Object.entries(w.counters.byPool);
    for (const [pool, [reserved, taken]] of pools) {
      const p = (byPool[pool] ??= [0, 0]);
      p[0] += sign * reserved;
      p[1] += sign * taken;
    }
    out.workerCpuMs = (out.workerCpuMs ?? 0) + sign * w.cpuMs;
  };
  b.workers.forEach((w) => add(w, 1));
  a?.workers.forEach((w) => add(w, -1));
  return { ...out, byPool };
}

/** @param {number} x @param {number} y */
const per = (x, y) => (y > 0 ? x / y : NaN);

/**
 * Everything a run measured, as figures (and the raw parts worth keeping in the JSON).
 * @param {RunInput} r
 */
export function summarizeRun(r) {
  const n = r.n;
  const [run0, run1] = r.window;
  const win = counterDelta(run0, run1);
  const etcdWin = clusterDelta(run0.etcd, run1.etcd);
  const windowSeconds = (run1.at - run0.at) / 1000;
  const etcdEnd = clusterDelta(run0.etcd, r.end.etcd);
  const allocations = win.reserved ?? 0;
  const writes = allocations + r.planResults.reduce((s, p) => s + p.releases.length, 0);
  const starts = r.planResults.flatMap((p) => [...p.latency.steady, ...p.latency.deploy]);
  const steady = summarize(r.planResults.flatMap((p) => p.latency.steady));
  const deploy = summarize(r.planResults.flatMap((p) => p.latency.deploy));
  const all = summarize(starts);
  const lag = summarize(r.planResults.flatMap((p) => p.lag));
  const releases = summarize(r.planResults.flatMap((p) => p.releases));
  const inWindow = r.planResults.reduce((s, p) => s + p.inWindow, 0);
  const shared0 = win.byPool['fleet-shared-0'] ?? [0, 0];

  const [idle0, idle1] = r.idle;
  const etcdIdle = clusterDelta(idle0.etcd, idle1.etcd);
  const idleSeconds = (idle1.at - idle0.at) / 1000;
  const idleCpuMsPerSecond = per(etcdIdle.cpuMs, idleSeconds);

  const [b0, b1] = r.burstWindow;
  const burst = counterDelta(b0, b1);
  const burstLatency = summarize(r.bursts.flatMap((b) => b.latency));
  const drainMs = Math.max(...r.bursts.map((b) => b.lastDone)) - r.burstAt;

  // Memory: RSS after all of a worker's hosts less RSS after its first, per further host.
  let rssDelta = 0;
  let heapDelta = 0;
  let further = 0;
  let baseline = 0;
  for (const w of r.memory) {
    const m = w.memory;
    if (m && m.hosts > 1) {
      rssDelta += m.after.rss - m.firstHost.rss;
      heapDelta += m.after.heap - m.firstHost.heap;
      further += m.hosts - 1;
    }
    baseline = Math.max(baseline, w.ready.rss);
  }
  const memoryPerHost = per(rssDelta, further) / MB;
  const end = r.verdict;
  const errors = r.window[1].workers.reduce((s, w) => s + w.errors, 0);
  const atTarget = n === TARGET_HOSTS && r.params.windowMs >= 30_000;

  /** @type {FleetFigure[]} */
  const figures = [
    {
      id: 'load',
      label: 'load average (1 min) at the start',
      value: r.load.start[0],
      unit: 'ratio',
    },
    { id: 'workers', label: 'worker processes', value: r.workers, unit: 'count' },
    {
      id: 'offered',
      label: 'starts offered /s (steady + deploy)',
      value: r.plan.length / (r.params.windowMs / 1000),
      unit: 'ops',
    },
    {
      id: 'achieved',
      label: 'allocations /s achieved in the window',
      value: inWindow / (r.params.windowMs / 1000),
      unit: 'ops',
    },
    {
      id: 'answered',
      label: 'starts answered / offered',
      value: per(starts.length, r.plan.length),
      unit: 'ratio',
      target: '= 1',
      meets: (v) => v === 1,
    },
    { id: 'p50', label: 'RequestAddress p50', value: all.p50, unit: 'ms' },
    {
      id: 'p99',
      label: 'RequestAddress p99',
      value: all.p99,
      unit: 'ms',
      target: '≤ 50 ms',
      meets: (v) => v <= 50,
    },
    {
      id: 'raw_p99',
      label: '  a raw transaction meanwhile, p50 / p99',
      value: r.alongside.p99,
      unit: 'ms',
      text: `${r.alongside.p50.toFixed(1)} / ${r.alongside.p99.toFixed(1)} ms`,
    },
    { id: 'p99_steady', label: '  steady starts p99', value: steady.p99, unit: 'ms' },
    { id: 'p99_deploy', label: '  deploy bursts p99', value: deploy.p99, unit: 'ms' },
    { id: 'max', label: '  slowest', value: all.max, unit: 'ms' },
    { id: 'lag_p99', label: '  start lag p99 (worker event loop)', value: lag.p99, unit: 'ms' },
    { id: 'release_p99', label: 'ReleaseAddress p99', value: releases.p99, unit: 'ms' },
    {
      id: 'conflicts',
      label: 'compare failures / allocation',
      value: per(win.taken ?? 0, allocations),
      unit: 'ratio',
    },
    {
      id: 'conflicts_shared0',
      label: '  in shared-0 (every host)',
      value: per(shared0[1], shared0[0]),
      unit: 'ratio',
      target: '≤ 0.05',
      meets: (v) => v <= 0.05,
    },
    {
      id: 'txns',
      label: 'reserve transactions / allocation',
      value: per(win.txns ?? 0, allocations),
      unit: 'ratio',
    },
    {
      id: 'events_client',
      label: 'watch events delivered / allocation',
      value: per((win.added ?? 0) + (win.removed ?? 0), allocations),
      unit: 'ratio',
    },
    {
      id: 'events_write',
      label: '  per write (allocation or release)',
      value: per((win.added ?? 0) + (win.removed ?? 0), writes),
      unit: 'ratio',
    },
    {
      id: 'events_etcd',
      label: 'etcd events sent / allocation',
      value: per(etcdWin.events, allocations),
      unit: 'ratio',
    },
    {
      id: 'bytes_etcd',
      label: 'etcd bytes sent to clients / allocation',
      value: per(etcdWin.sentBytes, allocations),
      unit: 'bytes',
    },
    {
      id: 'proposals',
      label: 'etcd writes (raft proposals) /s in the window',
      value: per(etcdWin.proposals, windowSeconds),
      unit: 'ops',
    },
    {
      id: 'ceiling',
      label: '  raw ceiling: 1-put transactions /s at c=64',
      value: r.ceiling.throughput,
      unit: 'ops',
    },
    {
      id: 'etcd_cpu_alloc',
      label: 'etcd CPU / allocation beyond idle (3 members)',
      value: per((etcdWin.cpuMs - idleCpuMsPerSecond * windowSeconds) * 1000, allocations),
      unit: 'us',
    },
    {
      id: 'etcd_cpu_proposal',
      label: '  per write (raft proposal), beyond idle',
      value: per((etcdWin.cpuMs - idleCpuMsPerSecond * windowSeconds) * 1000, etcdWin.proposals),
      unit: 'us',
    },
    {
      id: 'etcd_cpu_raw',
      label: '  per raw transaction at the ceiling',
      value: r.ceiling.etcdCpuUsPerTxn,
      unit: 'us',
    },
    {
      id: 'etcd_cpu_pct',
      label: 'etcd CPU in the window (3 members)',
      value: per(etcdWin.cpuMs / 10, windowSeconds),
      unit: 'pct',
    },
    {
      id: 'hosts_cpu_alloc',
      label: 'hosts CPU / allocation (all hosts)',
      value: per((win.workerCpuMs ?? 0) * 1000, allocations),
      unit: 'us',
    },
    {
      id: 'hosts_cpu_pct',
      label: 'hosts CPU in the window (all workers)',
      value: per((win.workerCpuMs ?? 0) / 10, windowSeconds),
      unit: 'pct',
    },
    {
      id: 'idle_etcd_cpu',
      label: 'etcd CPU with the fleet idle (3 members)',
      value: idleCpuMsPerSecond / 10,
      unit: 'pct',
    },
    {
      id: 'watchers',
      label: 'etcd watchers per host',
      value: per(etcdWin.watchers, n),
      unit: 'ratio',
    },
    {
      id: 'memory_host',
      label: 'memory per host (RSS, 10 pools of /16)',
      value: memoryPerHost,
      unit: 'mb',
      target: '≤ 10 MB',
      meets: (v) => v <= 10,
    },
    {
      id: 'heap_host',
      label: '  JS heap per host',
      value: per(heapDelta, further) / MB,
      unit: 'mb',
    },
    {
      id: 'memory_base',
      label: '  worker baseline RSS (no host)',
      value: baseline / MB,
      unit: 'mb',
    },
    { id: 'db', label: 'etcd DB size at the end', value: etcdEnd.dbBytes / MB, unit: 'mb' },
    {
      id: 'etcd_rss',
      label: 'etcd member RSS (largest)',
      value: Math.max(...etcdWin.rssBytes) / MB,
      unit: 'mb',
    },
    {
      id: 'leader_changes',
      label: 'etcd leader changes in the window',
      value: etcdWin.leaderChanges,
      unit: 'count',
    },
    {
      id: 'burst_n',
      label: `burst: ${r.params.burstPerHost} starts on every host at once`,
      value: burstLatency.count,
      unit: 'count',
    },
    { id: 'burst_drain', label: '  drained after', value: drainMs, unit: 'ms' },
    { id: 'burst_p99', label: '  RequestAddress p99', value: burstLatency.p99, unit: 'ms' },
    {
      id: 'burst_conflicts',
      label: '  compare failures / allocation',
      value: per(burst.taken ?? 0, burst.reserved ?? 0),
      unit: 'ratio',
    },
    {
      id: 'burst_txns',
      label: '  transactions / allocation',
      value: per(burst.txns ?? 0, burst.reserved ?? 0),
      unit: 'ratio',
    },
    {
      id: 'join',
      label: `new host: join → first address (${r.params.joinAddresses.toLocaleString('en-US')} in the pool)`,
      value: r.join.joinToFirstAddressMs,
      unit: 'ms',
      target: '≤ 1,000 ms',
      meets: (v) => v <= 1000,
    },
    { id: 'join_boot', label: '  its start-up before that', value: r.join.bootMs, unit: 'ms' },
    {
      id: 'problems',
      label: 'duplicates, --check violations, failed requests',
      value: r.problems.length + errors,
      unit: 'count',
      target: '0',
      meets: (v) => v === 0,
    },
  ];
  return {
    n,
    load: r.load,
    cluster: r.cluster,
    setupSeconds: r.setupSeconds,
    ceiling: r.ceiling,
    figures: figures.map((f) => ({
      id: f.id,
      label: f.label,
      value: f.value,
      unit: f.unit,
      ...(f.text === undefined ? {} : { text: f.text }),
      ...(f.target === undefined ? {} : { target: f.target }),
      ...(f.meets === undefined || !atTarget ? {} : { met: f.meets(f.value) }),
    })),
    detail: {
      window: { seconds: windowSeconds, counters: win, etcd: etcdWin, inWindow, writes },
      idle: { seconds: idleSeconds, etcd: etcdIdle },
      burst: {
        counters: burst,
        etcd: clusterDelta(b0.etcd, b1.etcd),
        latency: burstLatency,
        drainMs,
      },
      latency: { all, steady, deploy, lag, releases },
      join: r.join,
      memory: r.memory,
      setup: r.setup,
      check: {
        counts: end.check.counts,
        violations: end.check.violations.length,
        held: end.held,
        leaked: end.leaked,
      },
    },
    problems: r.problems,
  };
}

/** @type {Record<FleetFigure['unit'], (v: number) => string>} */
const FMT = {
  count: (v) => Math.round(v).toLocaleString('en-US'),
  ops: (v) => v.toFixed(1),
  ms: (v) => `${v.toFixed(1)} ms`,
  ratio: (v) => v.toFixed(3),
  mb: (v) => `${v.toFixed(1)} MB`,
  pct: (v) => `${v.toFixed(1)} %`,
  bytes: (v) => `${Math.round(v).toLocaleString('en-US')} B`,
  us: (v) => `${Math.round(v).toLocaleString('en-US')} µs`,
};

/**
 * One row per figure, one column per fleet size, the target and whether the run at 100 hosts
 * met it.
 * @param {ReturnType<typeof summarizeRun>[]} runs
 * @param {boolean} quick
 */
export function printTable(runs, quick) {
  const first = runs[0];
  if (!first) {
    return;
  }
  const head = ['figure', ...runs.map((r) => `N=${r.n}`), 'target', 'met?'];
  const rows = first.figures.map((f, i) => {
    const at = runs.find((r) => r.figures[i]?.met !== undefined)?.figures[i];
    return [
      f.label,
      ...runs.map((r) => {
        const g = r.figures[i];
        return g && Number.isFinite(g.value) ? (g.text ?? FMT[g.unit](g.value)) : 'n/a';
      }),
      f.target ?? '',
      f.target === undefined ? '' : quick || !at ? 'n/a' : at.met ? 'yes' : 'NO',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - c.length))).join('  ');
  console.log('');
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) {
    console.log(line(r));
  }
  console.log(
    quick
      ? '\nquick mode: a few hosts and a short window; nothing is judged but the invariants'
      : `\ntargets are judged at N=${TARGET_HOSTS} with a window of at least 30 s`,
  );
}
