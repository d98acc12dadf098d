// A real etcd cluster (1..N members) on free loopback ports, for integration tests, plus small
// helpers for its HTTP JSON gateway (/v3/...). Needs Debian's etcd-server (/usr/bin/etcd).
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  errorMessage,
  isRecord,
  killQuietly,
  onProcessExit,
  pidAlive,
  pidsWithCmdlineContaining,
  spawnDaemon,
  staleFixtureDirs,
  tailFile,
  waitFor,
  waitPidsGoneSync,
  writeOwnerFileSync,
  type Daemon,
} from './proc.js';

export interface EtcdMember {
  readonly index: number;
  /** etcd member name (`m0`, `m1`, …). */
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** The member's own directory: `data/` and `etcd.log` live here. */
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** PID of the running process, undefined while the member is stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
}

export interface EtcdCluster {
  readonly name: string;
  readonly token: string;
  /** Base directory holding every member's directory; removed by stop(). */
  readonly dir: string;
  /** Client URLs (`http://127.0.0.1:PORT`), one per member, in member order. */
  readonly endpoints: string[];
  readonly members: readonly EtcdMember[];
  /** Kills every member, waits for the processes to go and removes all data. Idempotent. */
  stop(): Promise<void>;
  /** Stops member `i` by PID (SIGKILL by default) and waits until it has exited. */
  killMember(i: number, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a stopped member again on the same ports and data dir (`--initial-cluster-state
   * existing`) and waits for /health (or only for /version with `waitHealthy: false`, e.g.
   * while the cluster has no quorum yet).
   */
  restartMember(i: number, opts?: { waitHealthy?: boolean; timeoutMs?: number }): Promise<void>;
  /** Index of the current leader among running members (waits, bounded, for an election). */
  leaderIndex(timeoutMs?: number): Promise<number>;
}

export interface StartEtcdOptions {
  /** Number of members (default 1). */
  members?: number;
  /** Label used in directory names and the cluster token. */
  name?: string;
  /** Bound on waiting for the cluster to become healthy (default 20 s). */
  timeoutMs?: number;
  /** Extra etcd flags for every member. */
  extraArgs?: readonly string[];
  /**
   * Serve the v2 API too (`--enable-v2`, etcd 3.4 and 3.5 only): kontena-ipam 0.2's keyspace
   * for the import tests, written with etcdV2Put.
   */
  enableV2?: boolean;
}

const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';
const DIR_PREFIX = 'etcd-';

/** Removes clusters left by test processes that died without stopping them (e.g. SIGKILL). */
export function sweepStaleEtcdDirs(): string[] {
  const swept: string[] = [];
  for (const { dir, info } of staleFixtureDirs(tmpdir(), DIR_PREFIX)) {
    if (info.kind !== 'etcd') {
      continue;
    }
    const pids = pidsWithCmdlineContaining(`${dir}/`);
    pids.forEach((pid) => killQuietly(pid, 'SIGKILL'));
    waitPidsGoneSync(pids, 5000);
    rmSync(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

class MemberState implements EtcdMember {
  daemon: Daemon | undefined;

  constructor(
    readonly index: number,
    readonly name: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dir: string,
  ) {}

  get clientUrl(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }
  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }
  get dataDir(): string {
    return join(this.dir, 'data');
  }
  get logFile(): string {
    return join(this.dir, 'etcd.log');
  }
  get outFile(): string {
    return join(this.dir, 'stdout.log');
  }
  get running(): boolean {
    return this.daemon?.running() ?? false;
  }
  get pid(): number | undefined {
    return this.running ? this.daemon?.pid : undefined;
  }
  logs(): string {
    return [tailFile(this.logFile, 1500), tailFile(this.outFile, 1500)]
      .filter((t) => t.trim())
      .join('\n');
  }
}

// Ports handed out by this process recently, so that two clusters starting at once differ.
const recentPorts = new Set<number>();

async function listen0(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

/** Distinct free loopback ports, found by binding port 0 (all held until every one is known). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count && tries < count * 20; tries++) {
      const server = await listen0();
      servers.push(server);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        throw new Error('unexpected server address');
      }
      const port = address.port;
      if (!recentPorts.has(port)) {
        ports.push(port);
      }
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
  if (ports.length < count) {
    throw new Error(`could not find ${count} free loopback ports`);
  }
  for (const p of ports) {
    recentPorts.add(p);
  }
  if (recentPorts.size > 2000) {
    recentPorts.clear();
  }
  return ports;
}

function sanitize(label: string): string {
  return label.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 24) || 'etcd';
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
    const body: unknown = await res.json();
    return isRecord(body) && (body.health === 'true' || body.health === true);
  } catch {
    return false;
  }
}

async function answersVersion(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/version`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

async function waitMember(m: MemberState, timeoutMs: number, healthy: boolean): Promise<void> {
  await waitFor(
    `etcd member ${m.name} (${m.clientUrl}) ${healthy ? '/health' : '/version'}`,
    timeoutMs,
    async () => {
      const daemon = m.daemon;
      if (!daemon || !daemon.running()) {
        const info = daemon?.exitInfo();
        throw new Error(
          `etcd member ${m.name} exited (code ${info?.code ?? '?'}, signal ${info?.signal ?? '-'})`,
        );
      }
      return (healthy ? await isHealthy(m.clientUrl) : await answersVersion(m.clientUrl))
        ? true
        : undefined;
    },
  );
}

/** Starts a real etcd cluster; see EtcdCluster. Everything is removed again on failure. */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const count = opts.members ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > 9) {
    throw new Error(`members must be an integer in 1..9, got ${count}`);
  }
  const label = sanitize(opts.name ?? 'etcd');
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const extraArgs = [...(opts.extraArgs ?? []), ...(opts.enableV2 ? ['--enable-v2'] : [])];
  sweepStaleEtcdDirs();
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${label}-`));
  writeOwnerFileSync(dir, { kind: 'etcd' });
  let token = '';
  let members: MemberState[] = [];

  const killAllSync = (): void => {
    const pids = members.flatMap((m) => (m.daemon?.running() ? [m.daemon.pid] : []));
    pids.forEach((pid) => killQuietly(pid, 'SIGKILL'));
    waitPidsGoneSync(pids, 5000);
  };
  const unhook = onProcessExit(() => {
    killAllSync();
    rmSync(dir, { recursive: true, force: true });
  });

  const initialCluster = (): string => members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const spawnMember = (m: MemberState, state: 'new' | 'existing'): void => {
    const flags: [string, string][] = [
      ['--name', m.name],
      ['--data-dir', m.dataDir],
      ['--listen-client-urls', m.clientUrl],
      ['--advertise-client-urls', m.clientUrl],
      ['--listen-peer-urls', m.peerUrl],
      ['--initial-advertise-peer-urls', m.peerUrl],
      ['--initial-cluster', initialCluster()],
      ['--initial-cluster-state', state],
      ['--initial-cluster-token', token],
      ['--logger', 'zap'],
      ['--log-level', 'error'],
      ['--log-outputs', m.logFile],
    ];
    m.daemon = spawnDaemon(ETCD_BIN, [...flags.flat(), ...extraArgs], {
      logFile: m.outFile,
      parentDeathSignal: 'SIGKILL',
    });
  };
  const killAll = async (): Promise<void> => {
    await Promise.all(
      members.map((m) => (m.daemon ? m.daemon.stop({ signal: 'SIGKILL' }) : Promise.resolve())),
    );
  };

  try {
    for (let attempt = 1; ; attempt++) {
      token = `${label}-${randomBytes(6).toString('hex')}`;
      const ports = await freePorts(count * 2);
      members = [];
      for (let i = 0; i < count; i++) {
        const memberDir = join(dir, `m${i}`);
        await rm(memberDir, { recursive: true, force: true });
        await mkdir(memberDir, { recursive: true });
        members.push(
          new MemberState(i, `m${i}`, ports[2 * i] ?? 0, ports[2 * i + 1] ?? 0, memberDir),
        );
      }
      members.forEach((m) => spawnMember(m, 'new'));
      try {
        await Promise.all(members.map((m) => waitMember(m, timeoutMs, true)));
        break;
      } catch (e) {
        const clash = members.some((m) => !m.running && /address already in use/i.test(m.logs()));
        const logs = members.map((m) => `--- ${m.name} ---\n${m.logs()}`).join('\n');
        await killAll();
        if (clash && attempt < 3) {
          continue;
        }
        throw new Error(`etcd cluster ${label} did not start: ${errorMessage(e)}\n${logs}`, {
          cause: e,
        });
      }
    }
  } catch (e) {
    await killAll().catch(() => undefined);
    killAllSync();
    await rm(dir, { recursive: true, force: true });
    unhook();
    throw e;
  }

  const member = (i: number): MemberState => {
    const m = members[i];
    if (!m) {
      throw new Error(`no etcd member ${i} (cluster has ${members.length})`);
    }
    return m;
  };
  let stopping: Promise<void> | undefined;

  return {
    name: label,
    token,
    dir,
    endpoints: members.map((m) => m.clientUrl),
    members,
    stop() {
      stopping ??= (async () => {
        await killAll().catch(() => undefined);
        killAllSync();
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
        unhook();
        const alive = members.flatMap((m) =>
          m.daemon && pidAlive(m.daemon.pid) ? [m.daemon.pid] : [],
        );
        if (alive.length > 0) {
          throw new Error(`etcd ${label}: PIDs ${alive.join(', ')} still alive after stop()`);
        }
      })();
      return stopping;
    },
    async killMember(i, signal = 'SIGKILL') {
      const m = member(i);
      if (!m.running) {
        throw new Error(`etcd member ${m.name} is not running`);
      }
      await m.daemon?.stop({ signal, graceMs: 10_000 });
    },
    async restartMember(i, { waitHealthy = true, timeoutMs: wait = timeoutMs } = {}) {
      const m = member(i);
      if (stopping) {
        throw new Error(`etcd cluster ${label} is stopped`);
      }
      if (m.running) {
        throw new Error(`etcd member ${m.name} is still running`);
      }
      spawnMember(m, 'existing');
      try {
        await waitMember(m, wait, waitHealthy);
      } catch (e) {
        throw new Error(
          `etcd member ${m.name} did not come back: ${errorMessage(e)}\n${m.logs()}`,
          {
            cause: e,
          },
        );
      }
    },
    leaderIndex(wait = 10_000) {
      return waitFor(`a leader of etcd cluster ${label}`, wait, async () => {
        const live = members.filter((m) => m.running);
        const statuses = await Promise.all(
          live.map(async (m) => {
            try {
              const res = await etcdRequest(m.clientUrl, '/v3/maintenance/status', {}, 2000);
              const header = isRecord(res.header) ? res.header : {};
              return {
                index: m.index,
                id: typeof header.member_id === 'string' ? header.member_id : '',
                leader: typeof res.leader === 'string' ? res.leader : '0',
              };
            } catch {
              return undefined;
            }
          }),
        );
        const idToIndex = new Map<string, number>();
        const votes = new Map<string, number>();
        for (const st of statuses) {
          if (!st) {
            continue;
          }
          idToIndex.set(st.id, st.index);
          if (st.leader !== '0' && st.leader !== '') {
            votes.set(st.leader, (votes.get(st.leader) ?? 0) + 1);
          }
        }
        const [leader] = [...votes.entries()].sort((a, b) => b[1] - a[1])[0] ?? [];
        return leader === undefined ? undefined : idToIndex.get(leader);
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP JSON gateway helpers (keys and values are UTF-8 strings here, base64 on the wire).

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown): string =>
  Buffer.from(typeof s === 'string' ? s : '', 'base64').toString('utf8');
const kvsOf = (res: Record<string, unknown>): Record<string, unknown>[] =>
  Array.isArray(res.kvs) ? res.kvs.filter(isRecord) : [];

/** POSTs JSON to the first endpoint that answers (in order) and returns the parsed reply. */
export async function etcdRequest(
  endpoints: string | readonly string[],
  path: string,
  body: unknown,
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  const list = typeof endpoints === 'string' ? [endpoints] : endpoints;
  let lastError: unknown = new Error('no endpoints');
  for (const endpoint of list) {
    try {
      const res = await fetch(new URL(path, endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (!res.ok) {
        throw new Error(`HTTP ${res.status}: ${text}`);
      }
      const parsed: unknown = JSON.parse(text);
      if (!isRecord(parsed)) {
        throw new Error(`unexpected reply: ${text}`);
      }
      return parsed;
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`etcd ${path} failed on ${list.join(', ')}: ${errorMessage(lastError)}`, {
    cause: lastError,
  });
}

export async function etcdPut(
  endpoints: string | readonly string[],
  key: string,
  value: string,
): Promise<void> {
  await etcdRequest(endpoints, '/v3/kv/put', { key: b64(key), value: b64(value) });
}

export async function etcdGet(
  endpoints: string | readonly string[],
  key: string,
): Promise<string | undefined> {
  const res = await etcdRequest(endpoints, '/v3/kv/range', { key: b64(key) });
  const kv = kvsOf(res)[0];
  return kv ? unb64(kv.value) : undefined;
}

/** The smallest key greater than every key starting with `prefix` (etcd's range_end). */
function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] ?? 0xff) < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = (end[i] ?? 0) + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/** All keys (and values) under a prefix, in key order. */
export async function etcdGetPrefix(
  endpoints: string | readonly string[],
  prefix: string,
): Promise<Map<string, string>> {
  const res = await etcdRequest(endpoints, '/v3/kv/range', {
    key: b64(prefix),
    range_end: prefixEnd(prefix).toString('base64'),
  });
  return new Map(kvsOf(res).map((kv) => [unb64(kv.key), unb64(kv.value)]));
}

/** Deletes every key under a prefix; returns how many were deleted. */
export async function etcdDeletePrefix(
  endpoints: string | readonly string[],
  prefix: string,
): Promise<number> {
  const res = await etcdRequest(endpoints, '/v3/kv/deleterange', {
    key: b64(prefix),
    range_end: prefixEnd(prefix).toString('base64'),
  });
  return typeof res.deleted === 'string' ? Number(res.deleted) : 0;
}

/**
 * Sets one key through etcd's v2 API (`PUT /v2/keys/<key>`, parent directories created as
 * needed), as kontena-ipam 0.2 wrote its state; needs a member started with `enableV2`.
 */
export async function etcdV2Put(endpoint: string, key: string, value: string): Promise<void> {
  const res = await fetch(new URL(`/v2/keys${key}`, endpoint), {
    method: 'PUT',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ value }).toString(),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`etcd v2 PUT ${key} failed: HTTP ${res.status}: ${text}`);
  }
}

/** Waits (bounded) until an etcd endpoint answers GET /version; for externally given endpoints. */
export async function waitForEtcdEndpoint(endpoint: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(`etcd at ${endpoint} to answer /version`, timeoutMs, async () =>
    (await answersVersion(endpoint)) ? true : undefined,
  );
}
