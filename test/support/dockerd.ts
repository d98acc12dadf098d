// A private Docker engine per test (Debian docker.io 20.10, run as root), optionally inside a
// network namespace of its own, plus a registry-free busybox image and legacy plugin specs.
//
// Everything a DockerHost creates is removed by stop(), also after a failed start and (best
// effort, synchronously) on process exit: containers, networks, plugins, dockerd and its
// containerd/shims, mounts under its directory, the nsfs mounts of container namespaces,
// bridges, its cgroups, its netns and its directory. The global directories the engines use
// (/run/docker, /run/containerd, /run/netns) are never removed when they existed before the
// tests (`npm run dev` leaves /run/docker/plugins); of those the engines made, only the empty
// directories go once the last engine of the process has stopped.
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
  type Dirent,
} from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

import {
  anyProcessNamed,
  currentOwner,
  errnoCode,
  errorMessage,
  isRecord,
  killQuietly,
  mountPoints,
  mountsUnder,
  onProcessExit,
  ownerAlive,
  pidAlive,
  pidsWithCmdlineContaining,
  run,
  runSync,
  sleepSync,
  spawnDaemon,
  staleFixtureDirs,
  tailFile,
  unmountAllUnderSync,
  waitFor,
  waitPidsGoneSync,
  writeOwnerFileSync,
  type Daemon,
  type RunInput,
  type RunOptions,
  type RunResult,
} from './proc.js';

export type { RunResult } from './proc.js';

export interface DockerCliOptions {
  /** Kill the CLI and reject after this long (default 60 s). */
  timeoutMs?: number;
  /** Resolve on a non-zero exit instead of rejecting (a timeout still rejects). */
  allowFail?: boolean;
  /** stdin for the CLI (e.g. a tar stream for `docker import -`). */
  input?: RunInput;
  /** Extra environment for the CLI. */
  env?: Record<string, string>;
}

export interface DockerHost {
  readonly name: string;
  /** `unix://DIR/docker.sock`, for `docker -H` or DOCKER_HOST. */
  readonly host: string;
  readonly socketPath: string;
  /** The fixture's directory (data root, exec root, socket, logs). */
  readonly dir: string;
  readonly pid: number;
  /** Name of the network namespace dockerd runs in (under /run/netns), if any. */
  readonly netns?: string;
  readonly logFile: string;
  /** The cgroup parent of its containers (cgroupfs). */
  readonly cgroupParent: string;
  /** Runs the docker CLI against this engine, bounded by a timeout. */
  docker(args: readonly string[], opts?: DockerCliOptions): Promise<RunResult>;
  /** Runs a host command in this engine's network namespace (e.g. `ip -j link`). */
  exec(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Stops dockerd (SIGTERM, no --live-restore) and starts it again on the same state. */
  restart(): Promise<void>;
  /** Removes everything the fixture created; throws if something could not be removed. */
  stop(): Promise<void>;
}

export interface StartDockerdOptions {
  /** Run dockerd inside a new network namespace (only `lo`, up). */
  netns?: boolean;
  /** Label for the directory, netns and cgroup names. */
  name?: string;
  /** Bound on waiting until the engine answers (default 30 s). */
  timeoutMs?: number;
  /** Extra dockerd flags. */
  extraArgs?: readonly string[];
}

interface HostState {
  readonly name: string;
  readonly dir: string;
  readonly netns: string | undefined;
  readonly cgroupParent: string;
  linksBefore: Set<string>;
  readonly bridges: Set<string>;
  readonly plugins: Set<string>;
  daemon?: Daemon;
  /** dockerd's flags, for a restart. */
  args?: readonly string[];
  stopping?: Promise<void>;
  unhook?: () => void;
}

const DIR_PREFIX = 'dk-';
const NETNS_DIR = '/run/netns';
const CGROUP_ROOT = '/sys/fs/cgroup';
const DOCKER_PLUGIN_RUN_DIR = '/run/docker/plugins';
const BRIDGE_LINK = /^(br-[0-9a-f]{12}|docker0)$/;
// dockerd and its containerd create these outside their own roots.
const GLOBAL_DIRS = ['/run/docker', '/run/containerd'];

const liveHosts = new Set<HostState>();

interface GlobalSnapshot {
  existed: Map<string, boolean>;
  netnsDirExisted: boolean;
  netnsDirMounted: boolean;
  runMountExisted: boolean;
}
let globalsBefore: GlobalSnapshot | undefined;

function snapshotGlobals(): void {
  if (globalsBefore) {
    return;
  }
  globalsBefore = {
    existed: new Map(GLOBAL_DIRS.map((d) => [d, existsSync(d)])),
    netnsDirExisted: existsSync(NETNS_DIR),
    netnsDirMounted: mountPoints().includes(NETNS_DIR),
    runMountExisted: existsSync('/run/mount'),
  };
}

function isEmptyDir(path: string): boolean {
  try {
    return readdirSync(path).length === 0;
  } catch {
    return false;
  }
}

/** Removes `root` and the directories below it that are empty, deepest first; never a file. */
function removeEmptyDirsSync(root: string): void {
  for (const dir of dirsPostOrder(root)) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty (something of someone else's is inside), a mount point, or gone
    }
  }
}

/**
 * Removes what the engines of this process created outside their dirs, once none is left. Only
 * what did not exist at the snapshot, and of that only empty directories (and util-linux's
 * utab): a directory that existed before the tests is never removed, and a file that another
 * program put there meanwhile (a plugin's socket in /run/docker/plugins) stays, with the
 * directories that hold it.
 */
function cleanupGlobalsSync(): void {
  const g = globalsBefore;
  if (!g || liveHosts.size > 0) {
    return;
  }
  globalsBefore = undefined;
  // `ip netns add` bind-mounts /run/netns on itself the first time.
  if (!g.netnsDirMounted && mountPoints().includes(NETNS_DIR) && isEmptyDir(NETNS_DIR)) {
    runSync('umount', [NETNS_DIR]);
  }
  if (!g.netnsDirExisted && !mountPoints().includes(NETNS_DIR)) {
    removeEmptyDirsSync(NETNS_DIR);
  }
  if (!g.existed.get('/run/docker') && !anyProcessNamed((c) => c === 'dockerd')) {
    if (mountsUnder(['/run/docker']).length === 0) {
      removeEmptyDirsSync('/run/docker');
    }
  }
  if (!g.existed.get('/run/containerd') && !anyProcessNamed((c) => c.startsWith('containerd'))) {
    if (mountsUnder(['/run/containerd']).length === 0) {
      removeEmptyDirsSync('/run/containerd');
    }
  }
  if (!g.runMountExisted) {
    removeRunMount();
  }
}

/** util-linux's umount creates /run/mount (for its utab) on first use: removes it again. */
function removeRunMount(): void {
  if (existsSync('/run/mount') && readdirSync('/run/mount').every((e) => e.startsWith('utab'))) {
    rmSync('/run/mount', { recursive: true, force: true });
  }
}

/**
 * Runs `fn`, which may call umount; when /run/mount did not exist before, it does not after
 * (for tests and sweeps that unmount outside a host's own cleanup).
 */
export function keepingRunMountAbsent<T>(fn: () => T): T {
  const existed = existsSync('/run/mount');
  try {
    return fn();
  } finally {
    if (!existed) {
      removeRunMount();
    }
  }
}

function sanitize(label: string): string {
  return label.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 12) || 'dk';
}

function netnsArgs(
  netns: string | undefined,
  cmd: string,
  args: readonly string[],
): [string, string[]] {
  return netns ? ['nsenter', [`--net=${NETNS_DIR}/${netns}`, cmd, ...args]] : [cmd, [...args]];
}

function listLinksSync(netns: string | undefined): Set<string> {
  const [cmd, args] = netnsArgs(netns, 'ip', ['-j', 'link', 'show']);
  const r = runSync(cmd, args);
  if (r.code !== 0) {
    return new Set();
  }
  try {
    const links: unknown = JSON.parse(r.stdout);
    return new Set(
      (Array.isArray(links) ? links : []).flatMap((l: unknown) =>
        isRecord(l) && typeof l.ifname === 'string' ? [l.ifname] : [],
      ),
    );
  } catch {
    return new Set();
  }
}

function cgroupDirs(parent: string): string[] {
  const name = parent.replace(/^\/+/, '');
  const candidates = [join(CGROUP_ROOT, name)];
  try {
    for (const controller of readdirSync(CGROUP_ROOT)) {
      candidates.push(join(CGROUP_ROOT, controller, name));
    }
  } catch {
    // no cgroupfs
  }
  return candidates.filter((d) => {
    try {
      return statSync(d).isDirectory() && existsSync(join(d, 'cgroup.procs'));
    } catch {
      return false;
    }
  });
}

/** Directories below `root` (children before parents), then root itself. */
function dirsPostOrder(root: string): string[] {
  const out: string[] = [];
  let entries: Dirent[] = [];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    // gone
  }
  for (const e of entries) {
    if (e.isDirectory()) {
      out.push(...dirsPostOrder(join(root, e.name)));
    }
  }
  out.push(root);
  return out;
}

function cgroupPids(parent: string): number[] {
  const pids = new Set<number>();
  for (const root of cgroupDirs(parent)) {
    for (const d of dirsPostOrder(root)) {
      try {
        for (const line of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) {
          if (/^\d+$/.test(line.trim())) {
            pids.add(Number(line.trim()));
          }
        }
      } catch {
        // gone
      }
    }
  }
  return [...pids];
}

function removeCgroupsSync(parent: string): string[] {
  const left: string[] = [];
  for (const root of cgroupDirs(parent)) {
    for (const d of dirsPostOrder(root)) {
      let removed = false;
      for (let i = 0; i < 20 && !removed; i++) {
        try {
          rmdirSync(d);
          removed = true;
        } catch (e) {
          if (errnoCode(e) === 'ENOENT') {
            removed = true;
          } else {
            sleepSync(100);
          }
        }
      }
      if (!removed) {
        left.push(d);
      }
    }
  }
  return left;
}

/**
 * Kills whatever is left of the engine and removes all it created; synchronous so that it also
 * runs from a process 'exit' hook. Returns what could not be removed.
 */
function forceCleanupSync(s: HostState, ours = true): string[] {
  const problems: string[] = [];
  // 1. dockerd itself, then its containerd, shims and container processes.
  if (s.daemon && pidAlive(s.daemon.pid)) {
    killQuietly(s.daemon.pid, 'SIGKILL');
    if (waitPidsGoneSync([s.daemon.pid], 5000).length > 0) {
      problems.push(`dockerd pid ${s.daemon.pid} survived SIGKILL`);
    }
  }
  for (let round = 0; round < 3; round++) {
    const pids = [
      ...new Set([...cgroupPids(s.cgroupParent), ...pidsWithCmdlineContaining(`${s.dir}/`)]),
    ];
    if (pids.length === 0) {
      break;
    }
    pids.forEach((pid) => killQuietly(pid, 'SIGKILL'));
    const alive = waitPidsGoneSync(pids, 5000);
    if (round === 2 && alive.length > 0) {
      problems.push(`processes ${alive.join(', ')} survived SIGKILL`);
    }
  }
  // 2. Mounts: the data-root bind mount, container shm and netns (nsfs) mounts, plugin mounts.
  try {
    for (const id of readdirSync(join(s.dir, 'data', 'plugins'))) {
      if (/^[0-9a-f]{64}$/.test(id)) {
        s.plugins.add(id);
      }
    }
  } catch {
    // no plugins dir
  }
  const pluginDirs = [...s.plugins].map((id) => join(DOCKER_PLUGIN_RUN_DIR, id));
  const leftMounts = unmountAllUnderSync([s.dir, ...pluginDirs]);
  if (leftMounts.length > 0) {
    problems.push(`mounts left: ${leftMounts.join(', ')}`);
  }
  // 3. Cgroups.
  const leftCgroups = removeCgroupsSync(s.cgroupParent);
  if (leftCgroups.length > 0) {
    problems.push(`cgroups left: ${leftCgroups.join(', ')}`);
  }
  // 4. Bridges and the netns.
  if (s.netns) {
    const nsPath = join(NETNS_DIR, s.netns);
    if (existsSync(nsPath)) {
      for (const link of listLinksSync(s.netns)) {
        if (BRIDGE_LINK.test(link) || s.bridges.has(link)) {
          runSync('nsenter', [`--net=${nsPath}`, 'ip', 'link', 'del', link]);
        }
      }
      runSync('ip', ['netns', 'del', s.netns]);
    }
    if (existsSync(nsPath)) {
      runSync('umount', ['-l', nsPath]);
      rmSync(nsPath, { force: true });
    }
    if (existsSync(nsPath)) {
      problems.push(`netns ${s.netns} left`);
    }
  } else {
    const othersOnHost = [...liveHosts].some((h) => h !== s && !h.netns);
    for (const link of listLinksSync(undefined)) {
      if (s.linksBefore.has(link)) {
        continue;
      }
      if (s.bridges.has(link) || (!othersOnHost && BRIDGE_LINK.test(link))) {
        const r = runSync('ip', ['link', 'del', link]);
        if (r.code !== 0) {
          problems.push(`could not delete link ${link}: ${r.stderr.trim()}`);
        }
      }
    }
  }
  // 5. Plugin run dirs and the fixture dir.
  for (const dir of pluginDirs) {
    rmSync(dir, { recursive: true, force: true });
  }
  try {
    rmSync(s.dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (e) {
    problems.push(`could not remove ${s.dir}: ${errorMessage(e)}`);
  }
  if (ours) {
    liveHosts.delete(s);
    cleanupGlobalsSync();
  }
  return problems;
}

/**
 * Removes engines left by test processes that died without stopping them (SIGKILL, OOM): their
 * processes, mounts, cgroups, netns and directories. Bridges of a host-namespace engine that
 * are still up are left alone (their owner is unknown); those of a netns engine go with it.
 * Global directories (/run/docker, /run/containerd, /run/netns) stay: they existed before these
 * tests, whoever made them (a dead engine, or `npm run dev`'s plugin for its socket).
 */
export function sweepStaleDockerFixtures(): string[] {
  return keepingRunMountAbsent(sweepStale);
}

function sweepStale(): string[] {
  const swept: string[] = [];
  for (const { dir, info } of staleFixtureDirs(baseDir(), DIR_PREFIX)) {
    // Only names this module makes: never sweep a cgroup or netns named by someone else.
    const { cgroupParent, netns } = info;
    if (
      info.kind !== 'dockerd' ||
      typeof cgroupParent !== 'string' ||
      !/^\/ipamtest-[A-Za-z0-9_-]+-[0-9a-f]{8}$/.test(cgroupParent) ||
      (netns !== undefined &&
        (typeof netns !== 'string' || !/^ipamt-[A-Za-z0-9_-]+-[0-9a-f]{8}$/.test(netns)))
    ) {
      continue;
    }
    const s: HostState = {
      name: typeof info.name === 'string' ? info.name : 'stale',
      dir,
      netns,
      cgroupParent,
      linksBefore: listLinksSync(undefined),
      bridges: new Set(),
      plugins: new Set(),
    };
    forceCleanupSync(s, false);
    swept.push(dir);
  }
  return swept;
}

function cliEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['DOCKER_HOST', 'DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH']) {
    delete env[k];
  }
  return {
    ...env,
    DOCKER_CONFIG: join(dir, 'cli'),
    DOCKER_BUILDKIT: '0',
    DOCKER_CLI_HINTS: 'false',
    ...extra,
  };
}

function dockerCli(
  s: HostState,
  args: readonly string[],
  opts: DockerCliOptions = {},
): Promise<RunResult> {
  const host = `unix://${join(s.dir, 'docker.sock')}`;
  return run('docker', ['-H', host, ...args], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    allowFail: opts.allowFail,
    input: opts.input,
    env: cliEnv(s.dir, opts.env),
    label: `docker -H ${host} ${args.join(' ')}`,
  });
}

const lines = (text: string): string[] =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);

/** Removes containers, plugins and non-default networks through the API, each step bounded. */
async function apiCleanup(s: HostState): Promise<void> {
  const q = (args: readonly string[], timeoutMs: number): Promise<RunResult> =>
    dockerCli(s, args, { timeoutMs, allowFail: true });
  const containers = lines((await q(['ps', '-aq', '--no-trunc'], 15_000)).stdout);
  if (containers.length > 0) {
    await q(['rm', '-f', '-v', ...containers], 60_000);
  }
  const plugins = lines(
    (await q(['plugin', 'ls', '--no-trunc', '--format', '{{.ID}}'], 15_000)).stdout,
  );
  plugins.forEach((id) => s.plugins.add(id));
  if (plugins.length > 0) {
    await q(['plugin', 'rm', '-f', ...plugins], 60_000);
  }
  const networks = lines((await q(['network', 'ls', '-q', '--no-trunc'], 15_000)).stdout);
  if (networks.length > 0) {
    const inspect = await q(
      [
        'network',
        'inspect',
        '--format',
        '{{.Id}} {{.Name}} {{.Driver}} {{index .Options "com.docker.network.bridge.name"}}',
        ...networks,
      ],
      15_000,
    );
    const removable: string[] = [];
    for (const line of lines(inspect.stdout)) {
      const [id = '', name = '', driver = '', bridgeName = ''] = line.split(' ');
      if (driver === 'bridge') {
        s.bridges.add(
          bridgeName && bridgeName !== '<no value>' ? bridgeName : `br-${id.slice(0, 12)}`,
        );
      }
      if (!['bridge', 'host', 'none'].includes(name)) {
        removable.push(id);
      }
    }
    if (removable.length > 0) {
      await q(['network', 'rm', ...removable], 30_000);
    }
  }
}

function stopHost(s: HostState): Promise<void> {
  s.stopping ??= (async () => {
    const problems: string[] = [];
    const daemon = s.daemon;
    if (daemon?.running()) {
      try {
        await apiCleanup(s);
      } catch (e) {
        // A hung engine or plugin: go on with signals and forced cleanup.
        problems.push(`API cleanup: ${errorMessage(e)}`);
      }
      await daemon.stop({ signal: 'SIGTERM', graceMs: 15_000 }).catch(() => undefined);
    }
    const left = forceCleanupSync(s);
    s.unhook?.();
    if (left.length > 0) {
      throw new Error(
        `dockerd fixture ${s.name} (${s.dir}) left: ${left.join('; ')}` +
          (problems.length > 0 ? ` (${problems.join('; ')})` : ''),
      );
    }
  })();
  return s.stopping;
}

function baseDir(): string {
  // Unix socket paths are limited to 107 bytes: DIR/exec/containerd/containerd.sock.ttrpc must fit.
  return tmpdir().length <= 40 ? tmpdir() : '/tmp';
}

/** Starts a private dockerd (see DockerHost). Everything is removed again on failure. */
export async function startDockerd(opts: StartDockerdOptions = {}): Promise<DockerHost> {
  const name = sanitize(opts.name ?? 'dk');
  const id = randomBytes(4).toString('hex');
  sweepStaleDockerFixtures();
  snapshotGlobals();
  const dir = await mkdtemp(join(baseDir(), `${DIR_PREFIX}${name}-`));
  const s: HostState = {
    name,
    dir,
    netns: opts.netns ? `ipamt-${name}-${id}` : undefined,
    cgroupParent: `/ipamtest-${name}-${id}`,
    linksBefore: new Set(),
    bridges: new Set(),
    plugins: new Set(),
  };
  writeOwnerFileSync(dir, {
    kind: 'dockerd',
    name,
    netns: s.netns,
    cgroupParent: s.cgroupParent,
  });
  liveHosts.add(s);
  s.unhook = onProcessExit(() => {
    forceCleanupSync(s);
  });
  const socketPath = join(dir, 'docker.sock');
  const host = `unix://${socketPath}`;
  const logFile = join(dir, 'dockerd.log');
  const timeoutMs = opts.timeoutMs ?? 30_000;

  try {
    if (s.netns) {
      await run('ip', ['netns', 'add', s.netns], { timeoutMs: 10_000 });
      await run('nsenter', [`--net=${NETNS_DIR}/${s.netns}`, 'ip', 'link', 'set', 'lo', 'up'], {
        timeoutMs: 10_000,
      });
    }
    s.linksBefore = listLinksSync(s.netns);
    // A config file of our own: dockerd would otherwise read /etc/docker/daemon.json and write
    // its trust key to /etc/docker/key.json.
    const configFile = join(dir, 'daemon.json');
    await writeFile(configFile, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
    const args = [
      `--config-file=${configFile}`,
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--host=${host}`,
      `--pidfile=${join(dir, 'docker.pid')}`,
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--storage-driver=vfs',
      `--cgroup-parent=${s.cgroupParent}`,
      '--userland-proxy=false',
      // In the host namespace leave the host's net.ipv4.ip_forward alone.
      ...(s.netns ? [] : ['--ip-forward=false']),
      ...(opts.extraArgs ?? []),
    ];
    await launch(s, args, logFile, timeoutMs);
    s.args = args;
  } catch (e) {
    const log = tailFile(logFile);
    const cleanup = await stopHost(s).then(
      () => '',
      (ce: unknown) => `\ncleanup after the failed start: ${errorMessage(ce)}`,
    );
    throw new Error(`dockerd fixture ${name} did not start: ${errorMessage(e)}\n${log}${cleanup}`, {
      cause: e,
    });
  }
  return {
    name,
    host,
    socketPath,
    dir,
    get pid() {
      return s.daemon?.pid ?? 0;
    },
    netns: s.netns,
    logFile,
    cgroupParent: s.cgroupParent,
    docker: (args, o) => dockerCli(s, args, o),
    exec: (cmd, args, o) => {
      const [c, a] = netnsArgs(s.netns, cmd, args);
      return run(c, a, o);
    },
    restart: () => restartHost(s, logFile, timeoutMs),
    stop: () => stopHost(s),
  };
}

/** Spawns dockerd with `args` (in the host's namespace) and waits until it answers. */
async function launch(
  s: HostState,
  args: readonly string[],
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const [cmd, argv] = netnsArgs(s.netns, 'dockerd', args);
  const path = process.env.PATH ?? '/usr/bin:/bin';
  const env = {
    ...process.env,
    PATH: path.split(':').includes('/usr/sbin') ? path : `${path}:/usr/sbin:/sbin`,
  };
  const daemon = spawnDaemon(cmd, argv, { logFile, env, parentDeathSignal: 'SIGTERM' });
  s.daemon = daemon;
  await waitFor(
    `dockerd at unix://${join(s.dir, 'docker.sock')} to answer`,
    timeoutMs,
    async () => {
      if (!daemon.running()) {
        const info = daemon.exitInfo();
        throw new Error(
          `dockerd exited (code ${info?.code ?? '?'}, signal ${info?.signal ?? '-'})`,
        );
      }
      const r = await dockerCli(s, ['version', '--format', '{{.Server.Version}}'], {
        timeoutMs: 5000,
        allowFail: true,
      }).catch(() => undefined);
      return r?.code === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
    },
    200,
  );
}

/**
 * Stops dockerd as an operator's restart does (SIGTERM: without --live-restore it stops the
 * containers first) and starts it again with the same flags, keeping its state.
 */
async function restartHost(s: HostState, logFile: string, timeoutMs: number): Promise<void> {
  if (s.stopping || !s.args) {
    throw new Error(`dockerd fixture ${s.name} is stopped: it cannot be restarted`);
  }
  await s.daemon?.stop({ signal: 'SIGTERM', graceMs: 30_000 });
  await launch(s, s.args, logFile, timeoutMs);
}

// ---------------------------------------------------------------------------------------------
// A busybox image without a registry.

export const BUSYBOX_IMAGE = 'ipam-test-busybox';
const BUSYBOX_BIN = process.env.BUSYBOX_BIN ?? '/bin/busybox';
const imageBuilds = new WeakMap<DockerHost, Map<string, Promise<string>>>();

async function buildBusyboxImage(host: DockerHost, name: string): Promise<string> {
  const existing = await host.docker(['image', 'inspect', '--format', '{{.Id}}', name], {
    allowFail: true,
    timeoutMs: 30_000,
  });
  if (existing.code === 0) {
    return name;
  }
  if (!existsSync(BUSYBOX_BIN)) {
    throw new Error(`${BUSYBOX_BIN} not found (apt-get install busybox-static)`);
  }
  const work = await mkdtemp(join(host.dir, 'img-'));
  try {
    const rootfs = join(work, 'rootfs');
    for (const d of [
      'bin',
      'sbin',
      'usr/bin',
      'usr/sbin',
      'etc',
      'root',
      'proc',
      'sys',
      'dev',
      'tmp',
      'var/run',
    ]) {
      await mkdir(join(rootfs, d), { recursive: true });
    }
    await chmod(join(rootfs, 'tmp'), 0o1777);
    await copyFile(BUSYBOX_BIN, join(rootfs, 'bin/busybox'));
    await chmod(join(rootfs, 'bin/busybox'), 0o755);
    const applets = lines((await run(BUSYBOX_BIN, ['--list-full'], { timeoutMs: 10_000 })).stdout);
    for (const applet of applets) {
      if (applet === 'bin/busybox' || applet.includes('..')) {
        continue;
      }
      const target = join(rootfs, applet);
      await mkdir(dirname(target), { recursive: true });
      await symlink('/bin/busybox', target).catch((e: unknown) => {
        if (errnoCode(e) !== 'EEXIST') {
          throw e;
        }
      });
    }
    await writeFile(
      join(rootfs, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    );
    await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    const tarFile = join(work, 'rootfs.tar');
    await run('tar', ['-C', rootfs, '-cf', tarFile, '.'], { timeoutMs: 60_000 });
    await host.docker(['import', '--change', 'CMD ["/bin/sh"]', tarFile, name], {
      timeoutMs: 120_000,
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return name;
}

/**
 * Makes sure `name` exists on the engine: the host's static busybox with an applet symlink
 * for every command (sh, sleep, ip, ifconfig, cat, hostname, env, …), imported with
 * `docker import`. Idempotent; returns the image name.
 */
export function ensureBusyboxImage(host: DockerHost, name = BUSYBOX_IMAGE): Promise<string> {
  let builds = imageBuilds.get(host);
  if (!builds) {
    builds = new Map();
    imageBuilds.set(host, builds);
  }
  let build = builds.get(name);
  if (!build) {
    build = buildBusyboxImage(host, name);
    builds.set(name, build);
    const map = builds;
    build.catch(() => map.delete(name));
  }
  return build;
}

// ---------------------------------------------------------------------------------------------
// Legacy (socket) plugin discovery: /etc/docker/plugins/NAME.spec.

export const PLUGIN_SPEC_DIR = '/etc/docker/plugins';
// Who wrote which spec: SPEC_OWNERS_DIR/<driver>.json, so that a later run can remove the spec
// files of a test process that died without removing them.
const SPEC_OWNERS_DIR = join(tmpdir(), 'ipam-test-plugin-specs');
const ourSpecs = new Map<string, symbol>();
const createdSpecDirs: string[] = [];

function removeCreatedSpecDirsSync(): void {
  if (ourSpecs.size > 0) {
    return;
  }
  for (const d of [SPEC_OWNERS_DIR, ...createdSpecDirs.toReversed()]) {
    try {
      rmdirSync(d);
    } catch {
      // not empty (someone else's spec) or gone
    }
  }
  createdSpecDirs.length = 0;
}

/** Removes spec files whose writing test process is gone, if they still hold what it wrote. */
export function sweepStalePluginSpecs(): string[] {
  const swept: string[] = [];
  const staleDirs = new Set<string>();
  let entries: string[];
  try {
    entries = readdirSync(SPEC_OWNERS_DIR).filter((e) => e.endsWith('.json'));
  } catch {
    return swept;
  }
  for (const entry of entries) {
    const ownerFile = join(SPEC_OWNERS_DIR, entry);
    try {
      const info: unknown = JSON.parse(readFileSync(ownerFile, 'utf8'));
      if (!isRecord(info) || !isRecord(info.owner)) {
        continue;
      }
      const { pid, start } = info.owner;
      const { specPath, content } = info;
      if (
        typeof pid !== 'number' ||
        typeof start !== 'string' ||
        typeof specPath !== 'string' ||
        dirname(specPath) !== PLUGIN_SPEC_DIR ||
        !specPath.endsWith('.spec') ||
        statSync(ownerFile).uid !== process.getuid?.() ||
        ownerAlive({ pid, start })
      ) {
        continue;
      }
      if (existsSync(specPath) && readFileSync(specPath, 'utf8') === content) {
        rmSync(specPath, { force: true });
        swept.push(specPath);
      }
      rmSync(ownerFile, { force: true });
      for (const d of Array.isArray(info.createdDirs) ? info.createdDirs : []) {
        if (d === '/etc/docker' || d === PLUGIN_SPEC_DIR) {
          staleDirs.add(d);
        }
      }
    } catch {
      // unreadable: leave it
    }
  }
  // Directories the dead writers had created, if nobody uses them any more.
  if (ourSpecs.size === 0) {
    for (const d of [SPEC_OWNERS_DIR, ...[...staleDirs].sort().toReversed()]) {
      if (!createdSpecDirs.includes(d) && isEmptyDir(d)) {
        rmSync(d, { recursive: true, force: true });
      }
    }
  }
  return swept;
}

/**
 * Writes `/etc/docker/plugins/<driverName>.spec` holding `unix://<socketPath>` so that every
 * engine on the machine finds the legacy plugin `driverName` there. Refuses to overwrite a spec
 * this process did not write. Returns the remover (also run on process exit).
 */
export function registerPluginSpec(driverName: string, socketPath: string): () => Promise<void> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(driverName)) {
    throw new Error(`invalid plugin driver name ${JSON.stringify(driverName)}`);
  }
  if (!isAbsolute(socketPath)) {
    throw new Error(`plugin socket path must be absolute: ${socketPath}`);
  }
  sweepStalePluginSpecs();
  const specPath = join(PLUGIN_SPEC_DIR, `${driverName}.spec`);
  const ownerFile = join(SPEC_OWNERS_DIR, `${driverName}.json`);
  for (const d of ['/etc/docker', PLUGIN_SPEC_DIR]) {
    if (!existsSync(d)) {
      mkdirSync(d);
      createdSpecDirs.push(d);
    }
  }
  const content = `unix://${socketPath}`;
  if (ourSpecs.has(specPath)) {
    writeFileSync(specPath, content);
  } else {
    try {
      writeFileSync(specPath, content, { flag: 'wx' });
    } catch (e) {
      removeCreatedSpecDirsSync();
      if (errnoCode(e) === 'EEXIST') {
        throw new Error(
          `refusing to overwrite ${specPath}: it exists and was not written by this test process`,
          { cause: e },
        );
      }
      throw e;
    }
  }
  mkdirSync(SPEC_OWNERS_DIR, { recursive: true });
  writeFileSync(
    ownerFile,
    JSON.stringify({ owner: currentOwner(), specPath, content, createdDirs: createdSpecDirs }),
  );
  const token = Symbol(specPath);
  ourSpecs.set(specPath, token);
  const removeSync = (): void => {
    if (ourSpecs.get(specPath) !== token) {
      return;
    }
    ourSpecs.delete(specPath);
    rmSync(specPath, { force: true });
    rmSync(ownerFile, { force: true });
    removeCreatedSpecDirsSync();
  };
  const unhook = onProcessExit(removeSync);
  return async () => {
    removeSync();
    unhook();
  };
}
