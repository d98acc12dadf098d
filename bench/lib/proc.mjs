// Child processes, ports and temporary directories for the benchmark. Everything started here is
// killed on exit (and, where `setpriv` exists, by the kernel when the benchmark dies).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
/** @type {Set<string>} */
const dirs = new Set();

process.once('exit', () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
    }
  }
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

let pdeathsig;
function hasPdeathsig() {
  pdeathsig ??=
    spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', 'true'], { stdio: 'ignore', timeout: 5000 })
      .status === 0;
  return pdeathsig;
}

/**
 * A temporary directory on tmpfs (/dev/shm) when there is one, else in the system temp dir.
 * @param {string} label
 * @returns {{ dir: string, tmpfs: boolean }}
 */
export function tempDir(label) {
  const shm = '/dev/shm';
  let dir;
  let tmpfs = false;
  if (existsSync(shm)) {
    try {
      dir = mkdtempSync(join(shm, `${label}-`));
      tmpfs = true;
    } catch {
      dir = undefined;
    }
  }
  dir ??= mkdtempSync(join(tmpdir(), `${label}-`));
  dirs.add(dir);
  return { dir, tmpfs };
}

/** @param {string} dir */
export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/**
 * Starts a long-running child with stdout and stderr appended to `logFile`.
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ logFile: string, env?: NodeJS.ProcessEnv }} opts
 */
export function spawnDaemon(cmd, args, opts) {
  const fd = openSync(opts.logFile, 'a');
  /** @type {import('node:child_process').ChildProcess} */
  let child;
  try {
    const [file, argv] = hasPdeathsig()
      ? ['setpriv', ['--pdeathsig', 'SIGKILL', cmd, ...args]]
      : [cmd, args];
    child = spawn(file, argv, { stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
  } finally {
    closeSync(fd);
  }
  children.add(child);
  /** @type {Promise<number | string>} */
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      children.delete(child);
      resolve(err.message);
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid ?? 0,
    exited,
    running,
    /** SIGTERM (or `signal`), then SIGKILL after `graceMs`. */
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (running()) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };
}

/**
 * Distinct free loopback ports (bound to port 0, all held until every one is known).
 * @param {number} count
 * @returns {Promise<number[]>}
 */
export async function freePorts(count) {
  const servers = [];
  const ports = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(undefined));
      });
      servers.push(server);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        throw new Error('unexpected server address');
      }
      ports.push(address.port);
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
  return ports;
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined.
 * @template T
 * @param {string} what
 * @param {number} timeoutMs
 * @param {() => Promise<T | undefined> | T | undefined} check
 * @param {number} [everyMs]
 * @returns {Promise<T>}
 */
export async function waitFor(what, timeoutMs, check, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) {
        return value;
      }
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(everyMs);
  }
}

/**
 * Resident set size of a process in bytes (VmRSS of /proc/<pid>/status), or undefined.
 * @param {number} pid
 */
export function rssBytes(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The last `max` characters of a file (for error reports).
 * @param {string} file
 * @param {number} [max]
 */
export function tail(file, max = 3000) {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-max);
  } catch {
    return '';
  }
}

/**
 * CPU time (user + system) a process has used so far, in milliseconds, from /proc/<pid>/stat
 * (clock ticks of 10 ms), or undefined.
 * @param {number} pid
 */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}
