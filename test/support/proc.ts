// Process helpers shared by the service fixtures (etcd, dockerd): bounded command runs,
// long-running children that cannot outlive the test process, and synchronous exit hooks.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

export interface RunResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export type RunInput = string | Uint8Array | Readable;

export interface RunOptions {
  /** Kill the command with SIGKILL and reject after this long (default 60 s). */
  timeoutMs?: number;
  /** Resolve with the result on a non-zero exit instead of rejecting (timeouts still reject). */
  allowFail?: boolean;
  /** Data or a stream for the command's stdin (stdin is /dev/null without it). */
  input?: RunInput;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How to name the command in error messages (default: the command line). */
  label?: string;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly result?: RunResult,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `code` of a Node.js system error (ENOENT, EEXIST, …), if any. */
export function errnoCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function clip(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? `…${t.slice(-max)}` : t;
}

/** Runs a command to completion, bounded by a timeout that kills it. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const label = opts.label ?? [cmd, ...args].join(' ');
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      child.stdout?.destroy();
      child.stderr?.destroy();
      const stderr = Buffer.concat(err).toString('utf8');
      finish(() =>
        reject(
          new CommandError(
            `${label}: timed out after ${timeoutMs} ms and was killed` +
              (stderr.trim() ? `; stderr: ${clip(stderr)}` : ''),
          ),
        ),
      );
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (e) =>
      finish(() => reject(new CommandError(`${label}: failed to start: ${e.message}`))),
    );
    child.on('close', (code, signal) => {
      const result: RunResult = {
        code: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      finish(() => {
        if (result.code === 0 || opts.allowFail) {
          resolve(result);
        } else {
          const how = code === null ? `signal ${signal}` : `code ${code}`;
          reject(new CommandError(`${label}: exited with ${how}: ${clip(result.stderr)}`, result));
        }
      });
    });
    const stdin = child.stdin;
    if (opts.input !== undefined && stdin) {
      stdin.on('error', () => {
        // EPIPE when the command exits before reading all input: its exit code tells.
      });
      if (typeof opts.input === 'string' || opts.input instanceof Uint8Array) {
        stdin.end(opts.input);
      } else {
        opts.input.pipe(stdin);
      }
    }
  });
}

/** Runs a short command synchronously (for cleanup paths, including process exit). */
export function runSync(
  cmd: string,
  args: readonly string[],
  timeoutMs = 10_000,
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: 'pipe' });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

// ---------------------------------------------------------------------------------------------
// Exit hooks: synchronous cleanups run on process 'exit' (last registered runs first).

const exitHooks = new Set<() => void>();
let exitListenerInstalled = false;

export function onProcessExit(fn: () => void): () => void {
  if (!exitListenerInstalled) {
    exitListenerInstalled = true;
    process.on('exit', () => {
      for (const hook of [...exitHooks].toReversed()) {
        try {
          hook();
        } catch {
          // best effort: keep running the other hooks
        }
      }
    });
  }
  exitHooks.add(fn);
  return () => {
    exitHooks.delete(fn);
  };
}

// ---------------------------------------------------------------------------------------------
// PIDs

/** True while the process exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Waits (blocking) until all PIDs are gone; returns the ones still alive. */
export function waitPidsGoneSync(pids: readonly number[], timeoutMs: number): number[] {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(pidAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    sleepSync(50);
    alive = alive.filter(pidAlive);
  }
  return alive;
}

export async function waitPidGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() >= deadline) {
      return false;
    }
    await delay(50);
  }
  return true;
}

/** PIDs (other than ours) whose command line mentions `needle`. */
export function pidsWithCmdlineContaining(needle: string): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    const pid = Number(entry);
    if (pid === process.pid) {
      continue;
    }
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) {
        found.push(pid);
      }
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** True if a live process has a `comm` passing `test` (only to decide what to leave). */
export function anyProcessNamed(test: (comm: string) => boolean): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return false;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      if (test(readFileSync(`/proc/${entry}/comm`, 'utf8').trim()) && pidAlive(Number(entry))) {
        return true;
      }
    } catch {
      // exited meanwhile
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Long-running children

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Daemon {
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the child has exited (and been reaped). */
  readonly exited: Promise<ExitInfo>;
  exitInfo(): ExitInfo | undefined;
  running(): boolean;
  kill(signal?: NodeJS.Signals): void;
  /** Sends `signal`, waits `graceMs`, then SIGKILL; resolves once the process is gone. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<void>;
}

let pdeathsigSupport: boolean | undefined;

function hasPdeathsig(): boolean {
  if (pdeathsigSupport === undefined) {
    const r = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', 'true'], {
      stdio: 'ignore',
      timeout: 5000,
    });
    pdeathsigSupport = r.status === 0;
  }
  return pdeathsigSupport;
}

export interface SpawnDaemonOptions {
  /** stdout and stderr are appended to this file. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Signal the kernel sends the child if this process dies without cleaning up (via
   * `setpriv --pdeathsig`, which execs the command so the PID stays the command's).
   */
  parentDeathSignal?: NodeJS.Signals;
}

/**
 * Starts a long-running child with output to a file. It is killed (SIGKILL) on process exit
 * and, where `setpriv` is available, by the kernel when this process dies.
 */
export function spawnDaemon(
  cmd: string,
  args: readonly string[],
  opts: SpawnDaemonOptions,
): Daemon {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    const [file, argv] =
      opts.parentDeathSignal && hasPdeathsig()
        ? ['setpriv', ['--pdeathsig', opts.parentDeathSignal, cmd, ...args]]
        : [cmd, [...args]];
    child = spawn(file, argv, { stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
  } finally {
    closeSync(fd);
  }
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
  });
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start ${cmd}: ${spawnError?.message ?? 'no PID'}`);
  }
  let info: ExitInfo | undefined;
  const unhook = onProcessExit(() => {
    if (info === undefined) {
      killQuietly(pid, 'SIGKILL');
    }
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => {
      info = { code, signal };
      unhook();
      resolve(info);
    });
  });
  child.unref();
  const running = (): boolean => info === undefined && pidAlive(pid);
  const daemon: Daemon = {
    pid,
    logFile: opts.logFile,
    exited,
    exitInfo: () => info,
    running,
    kill(signal = 'SIGKILL') {
      if (info === undefined) {
        killQuietly(pid, signal);
      }
    },
    async stop({ signal = 'SIGTERM', graceMs = 10_000 } = {}) {
      if (!running()) {
        return;
      }
      daemon.kill(signal);
      if (signal !== 'SIGKILL' && !(await waitPidGone(pid, graceMs))) {
        daemon.kill('SIGKILL');
      }
      if (!(await waitPidGone(pid, 10_000))) {
        throw new Error(`${cmd} (pid ${pid}) did not exit after SIGKILL`);
      }
    },
  };
  return daemon;
}

// ---------------------------------------------------------------------------------------------
// Polling and files

/**
 * Polls `probe` until it returns something other than undefined, at most `timeoutMs`.
 * An exception thrown by `probe` aborts the wait (use it for "the process died").
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(intervalMs);
  }
}

/** The last `maxBytes` of a file, or '' when it cannot be read. */
export function tailFile(path: string, maxBytes = 3000): string {
  try {
    const size = statSync(path).size;
    const text = readFileSync(path, 'utf8');
    return size > maxBytes ? `…${text.slice(-maxBytes)}` : text;
  } catch {
    return '';
  }
}

/** Mount points from /proc/self/mountinfo, in mount order. */
export function mountPoints(): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field) {
      points.push(
        field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))),
      );
    }
  }
  return points;
}

/** Mount points equal to or below one of the given directories. */
export function mountsUnder(dirs: readonly string[]): string[] {
  return mountPoints().filter((mp) => dirs.some((d) => mp === d || mp.startsWith(`${d}/`)));
}

/** Lazily unmounts everything at or below the given directories, deepest first. */
export function unmountAllUnderSync(dirs: readonly string[]): string[] {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(dirs);
    if (mounts.length === 0) {
      return [];
    }
    mounts.sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
    for (const mp of mounts) {
      runSync('umount', ['-l', mp]);
    }
  }
  return mountsUnder(dirs);
}

// ---------------------------------------------------------------------------------------------
// Fixture ownership: each fixture directory records the process that made it, so that a later
// run can sweep what a killed test process (SIGKILL, OOM) could not clean up itself.

export interface OwnerInfo {
  pid: number;
  /** Start time of the owner (field 22 of /proc/PID/stat), to tell a reused PID apart. */
  start: string;
}

export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function currentOwner(): OwnerInfo {
  return { pid: process.pid, start: processStartTime(process.pid) ?? '' };
}

export function ownerAlive(owner: OwnerInfo): boolean {
  return pidAlive(owner.pid) && processStartTime(owner.pid) === owner.start;
}

export const OWNER_FILE = 'owner.json';

export function writeOwnerFileSync(dir: string, extra: Record<string, unknown> = {}): void {
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify({ ...extra, owner: currentOwner() }));
}

/** Fixture directories `base/prefix*` whose owning process is gone, with their owner.json. */
export function staleFixtureDirs(
  base: string,
  prefix: string,
): { dir: string; info: Record<string, unknown> }[] {
  const stale: { dir: string; info: Record<string, unknown> }[] = [];
  let entries: string[];
  try {
    entries = readdirSync(base).filter((e) => e.startsWith(prefix));
  } catch {
    return stale;
  }
  for (const entry of entries) {
    const dir = join(base, entry);
    try {
      // Only directories made by this user (base is usually the world-writable /tmp).
      const st = statSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.()) {
        continue;
      }
      const info: unknown = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8'));
      if (!isRecord(info) || !isRecord(info.owner)) {
        continue;
      }
      const { pid, start } = info.owner;
      if (typeof pid === 'number' && typeof start === 'string' && !ownerAlive({ pid, start })) {
        stale.push({ dir, info });
      }
    } catch {
      // not a fixture dir of ours, or being created right now
    }
  }
  return stale;
}
