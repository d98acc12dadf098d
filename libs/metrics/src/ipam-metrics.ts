import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What a transaction did, for `kontena_ipam_etcd_txn_total{result}`. */
export type TxnResult = 'committed' | 'compare_failed' | 'retried' | 'error';

/** One pool this node serves, as the pool gauges show it on a scrape. */
export interface PoolSample {
  pool: string;
  family: 'ipv4' | 'ipv6';
  /** host addresses of the subnet (IPv4: network and broadcast excluded) */
  size: bigint;
  /** addresses held: endpoints, gateway and aux reservations */
  allocated: bigint;
}

/** One supernet dynamic pools come from, as the supernet gauges show it on a scrape. */
export interface SupernetSample {
  /** the supernet in CIDR notation */
  supernet: string;
  family: 'ipv4' | 'ipv6';
  /** subnets of the supernet's pool length in it */
  subnets: bigint;
  /** of those, the ones that overlap no pool */
  free: bigint;
}

/** Buckets of a Docker call's duration: sub-millisecond calls up to ETCD_WAIT_TIMEOUT's scale. */
const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
/** Allocations per batched transaction (at most MAX_RESERVE_BATCH, 64). */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

/**
 * The plugin's Prometheus metrics (README, "Metrics"), one registry per process. The allocation
 * path only increments counters and observes histograms, with the labelled children cached;
 * the gauges of etcd and the pools are computed when /metrics is scraped, from the sources the
 * plugin sets (`sources`). `recording: false` turns every record into a no-op: what the bench
 * compares against (bench/run.mjs, KONTENA_IPAM_METRICS_RECORDING).
 */
export class IpamMetrics {
  readonly registry = new Registry();
  recording = true;
  /** Set by the plugin once its app is up; until then the gauges are empty. */
  sources: {
    etcdUp?: () => boolean;
    pools?: () => Promise<PoolSample[]>;
    supernets?: () => Promise<SupernetSample[]>;
  } = {};

  private readonly requests = new Counter({
    name: 'kontena_ipam_requests_total',
    help: 'Docker plugin calls answered, by method and outcome (ok, rejected: a 4xx, error: a 5xx, abandoned by the caller)',
    labelNames: ['method', 'outcome'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'kontena_ipam_request_duration_seconds',
    help: 'Time from a Docker call arriving to its reply written, by method',
    labelNames: ['method'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  private readonly txns = new Counter({
    name: 'kontena_ipam_etcd_txn_total',
    help: 'etcd transactions by operation and result (committed, compare_failed, retried: an attempt that failed and was tried again, error)',
    labelNames: ['op', 'result'],
    registers: [this.registry],
  });
  private readonly batches = new Histogram({
    name: 'kontena_ipam_batch_size',
    help: 'Address allocations sent together in one etcd transaction (a batch of waiting requests)',
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  // prom-client hashes the label values on every `labels()`: the children are cached instead.
  private readonly counted = new Map<string, { inc(): void }>();
  private readonly observed = new Map<string, { observe(v: number): void }>();
  /** The pools' samples of the scrape under way (read once for both pool gauges). */
  private samples: PoolSample[] = [];
  /** The supernets' samples of the scrape under way (read once for both supernet gauges). */
  private supernetSamples: SupernetSample[] = [];

  private readonly build = new Gauge({
    name: 'kontena_ipam_build_info',
    help: 'The running version of kontena-ipam (always 1)',
    labelNames: ['version'],
    registers: [this.registry],
  });

  private readonly etcdUp: Gauge = new Gauge({
    name: 'kontena_ipam_etcd_up',
    help: '1 while etcd answers (and is 3.3 or newer), else 0',
    registers: [this.registry],
    collect: () => {
      this.etcdUp.set(this.sources.etcdUp?.() ? 1 : 0);
    },
  });
  private readonly poolSize: Gauge<'pool' | 'family'> = new Gauge({
    name: 'kontena_ipam_pool_size',
    help: 'Host addresses of each pool this node serves (IPv4: network and broadcast excluded)',
    labelNames: ['pool', 'family'] as const,
    registers: [this.registry],
    collect: () => this.setPools(this.poolSize, 'size'),
  });
  private readonly poolAllocated: Gauge<'pool' | 'family'> = new Gauge({
    name: 'kontena_ipam_pool_allocated',
    help: 'Addresses held in each pool this node serves, gateway and aux reservations included',
    labelNames: ['pool', 'family'] as const,
    registers: [this.registry],
    collect: () => this.setPools(this.poolAllocated, 'allocated'),
  });
  private readonly supernetSubnets: Gauge<'supernet' | 'family'> = new Gauge({
    name: 'kontena_ipam_supernet_subnets',
    help: "Subnets of each supernet's dynamic pool length in it",
    labelNames: ['supernet', 'family'] as const,
    registers: [this.registry],
    collect: () => this.setSupernets(this.supernetSubnets, 'subnets'),
  });
  private readonly supernetFree: Gauge<'supernet' | 'family'> = new Gauge({
    name: 'kontena_ipam_supernet_free_subnets',
    help: "Subnets of each supernet's dynamic pool length that overlap no pool, in the cluster",
    labelNames: ['supernet', 'family'] as const,
    registers: [this.registry],
    collect: () => this.setSupernets(this.supernetFree, 'free'),
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** The running version (kontena_ipam_build_info). */
  buildInfo(version: string): void {
    this.build.reset();
    this.build.set({ version }, 1);
  }

  /** One Docker call answered, `seconds` after it arrived. */
  request(method: string, outcome: string, seconds: number): void {
    if (!this.recording) {
      return;
    }
    cached(this.counted, `${method} ${outcome}`, () => this.requests.labels(method, outcome)).inc();
    cached(this.observed, method, () => this.duration.labels(method)).observe(seconds);
  }

  /** One etcd transaction of operation `op` (or one failed attempt of it: `retried`). */
  txn(op: string, result: TxnResult): void {
    if (this.recording) {
      cached(this.counted, `txn ${op} ${result}`, () => this.txns.labels(op, result)).inc();
    }
  }

  /** One reservation transaction for `size` waiting allocations. */
  batch(size: number): void {
    if (this.recording) {
      this.batches.observe(size);
    }
  }

  private setPools(gauge: Gauge<'pool' | 'family'>, field: 'size' | 'allocated'): void {
    gauge.reset();
    for (const p of this.samples) {
      gauge.set({ pool: p.pool, family: p.family }, Number(p[field]));
    }
  }

  private setSupernets(gauge: Gauge<'supernet' | 'family'>, field: 'subnets' | 'free'): void {
    gauge.reset();
    for (const s of this.supernetSamples) {
      gauge.set({ supernet: s.supernet, family: s.family }, Number(s[field]));
    }
  }

  /**
   * The text format of every metric, and its content type, for GET /metrics. The pools and the
   * supernets are sampled first, once for both gauges of each; a source that fails leaves its
   * gauges empty.
   */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const [pools, supernets] = await Promise.all([
      this.sources.pools?.().catch(() => undefined),
      this.sources.supernets?.().catch(() => undefined),
    ]);
    this.samples = pools ?? [];
    this.supernetSamples = supernets ?? [];
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

function cached<T>(map: Map<string, T>, key: string, make: () => T): T {
  let child = map.get(key);
  if (child === undefined) {
    child = make();
    map.set(key, child);
  }
  return child;
}
