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
 * One figure; `more` adds its target (with the test that judges it) or how to print it.
 * @param {string} id
 * @param {string} label
 * @param {number} value
 * @param {FleetFigure['unit']} unit
 * @param {Partial<FleetFigure>} [more]
 * @returns {FleetFigure}
 */
const fig = (id, label, value, unit, more = {}) => ({ id, label, value, unit, ...more });

/**
 * What the window of offered load did: latencies, counters, etcd's counters, and the idle
 * figures taken just before it.
 * @param {RunInput} r
 */
function windowMetrics(r) {
  const [run0, run1] = r.window;
  const counters = counterDelta(run0, run1);
  const seconds = (run1.at - run0.at) / 1000;
  const plans = r.planResults;
  const [idle0, idle1] = r.idle;
  const idle = clusterDelta(idle0.etcd, idle1.etcd);
  const idleSeconds = (idle1.at - idle0.at) / 1000;
  return {
    counters,
    etcd: clusterDelta(run0.etcd, run1.etcd),
    seconds,
    allocations: counters.reserved ?? 0,
    writes: (counters.reserved ?? 0) + plans.reduce((s, p) => s + p.releases.length, 0),
    inWindow: plans.reduce((s, p) => s + p.inWindow, 0),
    answered: plans.reduce((s, p) => s + p.latency.steady.length + p.latency.deploy.length, 0),
    latency: {
      all: summarize(plans.flatMap((p) => [...p.latency.steady, ...p.latency.deploy])),
      steady: summarize(plans.flatMap((p) => p.latency.steady)),
      deploy: summarize(plans.flatMap((p) => p.latency.deploy)),
      lag: summarize(plans.flatMap((p) => p.lag)),
      releases: summarize(plans.flatMap((p) => p.releases)),
    },
    idle: { etcd: idle, seconds: idleSeconds, cpuMsPerSecond: per(idle.cpuMs, idleSeconds) },
  };
}

/**
 * Memory per host: a worker's RSS (and JS heap) after all its hosts less after its first, per
 * further host, over all workers; the largest RSS of a worker before any host.
 * @param {RunInput['memory']} workers
 */
function memoryPerHost(workers) {
  let rss = 0;
  let heap = 0;
  let further = 0;
  let baseline = 0;
  for (const w of workers) {
    const m = w.memory;
    if (m && m.hosts > 1) {
      rss += m.after.rss - m.firstHost.rss;
      heap += m.after.heap - m.firstHost.heap;
      further += m.hosts - 1;
    }
    baseline = Math.max(baseline, w.ready.rss);
  }
  return {
    rssMB: per(rss, further) / MB,
    heapMB: per(heap, further) / MB,
    baselineMB: baseline / MB,
  };
}

/**
 * The window's latencies and what was answered.
 * @param {RunInput} r
 * @param {ReturnType<typeof windowMetrics>} m
 */
function latencyFigures(r, m) {
  const { all, steady, deploy, lag, releases } = m.latency;
  const windowS = r.params.windowMs / 1000;
  const a = r.alongside;
  return [
    fig('load', 'load average (1 min) at the start', r.load.start[0] ?? NaN, 'ratio'),
    fig('workers', 'worker processes', r.workers, 'count'),
    fig('offered', 'starts offered /s (steady + deploy)', r.plan.length / windowS, 'ops'),
    fig('achieved', 'allocations /s achieved in the window', m.inWindow / windowS, 'ops'),
    fig('answered', 'starts answered / offered', per(m.answered, r.plan.length), 'ratio', {
      target: '= 1',
      meets: (v) => v === 1,
    }),
    fig('p50', 'RequestAddress p50', all.p50, 'ms'),
    fig('p99', 'RequestAddress p99', all.p99, 'ms', { target: '≤ 50 ms', meets: (v) => v <= 50 }),
    fig('raw_p99', '  a raw transaction meanwhile, p50 / p99', a.p99, 'ms', {
      text: `${a.p50.toFixed(1)} / ${a.p99.toFixed(1)} ms`,
    }),
    fig('p99_steady', '  steady starts p99', steady.p99, 'ms'),
    fig('p99_deploy', '  deploy bursts p99', deploy.p99, 'ms'),
    fig('max', '  slowest', all.max, 'ms'),
    fig('lag_p99', '  start lag p99 (worker event loop)', lag.p99, 'ms'),
    fig('release_p99', 'ReleaseAddress p99', releases.p99, 'ms'),
  ];
}

/**
 * What each allocation cost: compare failures, transactions, watch events, etcd's bytes and CPU.
 * @param {RunInput} r
 * @param {ReturnType<typeof windowMetrics>} m
 */
function costFigures(r, m) {
  const c = m.counters;
  const shared0 = c.byPool['fleet-shared-0'] ?? [0, 0];
  const events = (c.added ?? 0) + (c.removed ?? 0);
  const busyCpuMs = m.etcd.cpuMs - m.idle.cpuMsPerSecond * m.seconds;
  return [
    fig('conflicts', 'compare failures / allocation', per(c.taken ?? 0, m.allocations), 'ratio'),
    fig('conflicts_shared0', '  in shared-0 (every host)', per(shared0[1], shared0[0]), 'ratio', {
      target: '≤ 0.05',
      meets: (v) => v <= 0.05,
    }),
    fig('txns', 'reserve transactions / allocation', per(c.txns ?? 0, m.allocations), 'ratio'),
    fig(
      'events_client',
      'watch events delivered / allocation',
      per(events, m.allocations),
      'ratio',
    ),
    fig('events_write', '  per write (allocation or release)', per(events, m.writes), 'ratio'),
    fig('events_etcd', 'etcd events sent / allocation', per(m.etcd.events, m.allocations), 'ratio'),
    fig(
      'bytes_etcd',
      'etcd bytes sent to clients / allocation',
      per(m.etcd.sentBytes, m.allocations),
      'bytes',
    ),
    fig(
      'proposals',
      'etcd writes (raft proposals) /s in the window',
      per(m.etcd.proposals, m.seconds),
      'ops',
    ),
    fig('ceiling', '  raw ceiling: 1-put transactions /s at c=64', r.ceiling.throughput, 'ops'),
    fig(
      'etcd_cpu_alloc',
      'etcd CPU / allocation beyond idle (3 members)',
      per(busyCpuMs * 1000, m.allocations),
      'us',
    ),
    fig(
      'etcd_cpu_proposal',
      '  per write (raft proposal), beyond idle',
      per(busyCpuMs * 1000, m.etcd.proposals),
      'us',
    ),
    fig('etcd_cpu_raw', '  per raw transaction at the ceiling', r.ceiling.etcdCpuUsPerTxn, 'us'),
    fig(
      'etcd_cpu_pct',
      'etcd CPU in the window (3 members)',
      per(m.etcd.cpuMs / 10, m.seconds),
      'pct',
    ),
    fig(
      'hosts_cpu_alloc',
      'hosts CPU / allocation (all hosts)',
      per((c.workerCpuMs ?? 0) * 1000, m.allocations),
      'us',
    ),
    fig(
      'hosts_cpu_pct',
      'hosts CPU in the window (all workers)',
      per((c.workerCpuMs ?? 0) / 10, m.seconds),
      'pct',
    ),
  ];
}

/**
 * What each host costs when idle, and what etcd holds at the end.
 * @param {RunInput} r
 * @param {ReturnType<typeof windowMetrics>} m
 */
function hostFigures(r, m) {
  const mem = memoryPerHost(r.memory);
  const end = clusterDelta(r.window[0].etcd, r.end.etcd);
  return [
    fig(
      'idle_etcd_cpu',
      'etcd CPU with the fleet idle (3 members)',
      m.idle.cpuMsPerSecond / 10,
      'pct',
    ),
    fig('watchers', 'etcd watchers per host', per(m.etcd.watchers, r.n), 'ratio'),
    fig('memory_host', 'memory per host (RSS, 10 pools of /16)', mem.rssMB, 'mb', {
      target: '≤ 10 MB',
      meets: (v) => v <= 10,
    }),
    fig('heap_host', '  JS heap per host', mem.heapMB, 'mb'),
    fig('memory_base', '  worker baseline RSS (no host)', mem.baselineMB, 'mb'),
    fig('db', 'etcd DB size at the end', end.dbBytes / MB, 'mb'),
    fig('etcd_rss', 'etcd member RSS (largest)', Math.max(...m.etcd.rssBytes) / MB, 'mb'),
    fig('leader_changes', 'etcd leader changes in the window', m.etcd.leaderChanges, 'count'),
  ];
}

/**
 * The burst on every host at once, the join of a big pool, and the checks.
 * @param {RunInput} r
 * @param {ReturnType<typeof burstMetrics>} b
 */
function burstJoinFigures(r, b) {
  const errors = r.end.workers.reduce((s, w) => s + w.errors, 0);
  const pool = r.params.joinAddresses.toLocaleString('en-US');
  return [
    fig(
      'burst_n',
      `burst: ${r.params.burstPerHost} starts on every host at once`,
      b.latency.count,
      'count',
    ),
    fig('burst_drain', '  drained after', b.drainMs, 'ms'),
    fig('burst_p99', '  RequestAddress p99', b.latency.p99, 'ms'),
    fig(
      'burst_conflicts',
      '  compare failures / allocation',
      per(b.counters.taken ?? 0, b.counters.reserved ?? 0),
      'ratio',
    ),
    fig(
      'burst_txns',
      '  transactions / allocation',
      per(b.counters.txns ?? 0, b.counters.reserved ?? 0),
      'ratio',
    ),
    fig(
      'join',
      `new host: join → first address (${pool} in the pool)`,
      r.join.joinToFirstAddressMs,
      'ms',
      {
        target: '≤ 1,000 ms',
        meets: (v) => v <= 1000,
      },
    ),
    fig('join_boot', '  its start-up before that', r.join.bootMs, 'ms'),
    fig(
      'problems',
      'duplicates, --check violations, failed requests',
      r.problems.length + errors,
      'count',
      {
        target: '0',
        meets: (v) => v === 0,
      },
    ),
  ];
}

/**
 * The burst on every host at once.
 * @param {RunInput} r
 */
function burstMetrics(r) {
  const [b0, b1] = r.burstWindow;
  return {
    counters: counterDelta(b0, b1),
    etcd: clusterDelta(b0.etcd, b1.etcd),
    latency: summarize(r.bursts.flatMap((b) => b.latency)),
    drainMs: Math.max(...r.bursts.map((b) => b.lastDone)) - r.burstAt,
  };
}

/**
 * Everything a run measured, as figures (and the raw parts worth keeping in the JSON).
 * @param {RunInput} r
 */
export function summarizeRun(r) {
  const m = windowMetrics(r);
  const b = burstMetrics(r);
  const atTarget = r.n === TARGET_HOSTS && r.params.windowMs >= 30_000;
  const figures = [
    ...latencyFigures(r, m),
    ...costFigures(r, m),
    ...hostFigures(r, m),
    ...burstJoinFigures(r, b),
  ];
  const check = r.verdict;
  return {
    n: r.n,
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
      window: {
        seconds: m.seconds,
        counters: m.counters,
        etcd: m.etcd,
        inWindow: m.inWindow,
        writes: m.writes,
      },
      idle: { seconds: m.idle.seconds, etcd: m.idle.etcd },
      burst: b,
      latency: m.latency,
      join: r.join,
      memory: r.memory,
      setup: r.setup,
      check: {
        counts: check.check.counts,
        violations: check.check.violations.length,
        held: check.held,
        leaked: check.leaked,
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
