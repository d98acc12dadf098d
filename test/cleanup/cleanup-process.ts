import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
export const CLEANUP_MAIN = join(ROOT, 'dist/apps/cleanup/src/main.js');
/** kontena-ipam-ctl's built entry point: started by the same functions, `main` given. */
export const CTL_MAIN = join(ROOT, 'dist/apps/ctl/src/main.js');

export interface CleanupProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code, or the signal name; the process is SIGKILLed after `timeoutMs`. */
  readonly exited: Promise<number | string>;
}

/**
 * Starts the built cleanup (`dist/`) as `bin/kontena-ipam-cleanup` would (or another built
 * command, `main`), with only `env`.
 */
export function startCleanupCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
  main = CLEANUP_MAIN,
): CleanupProcess {
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: run npm run build before the e2e tests`);
  }
  const child = spawn(process.execPath, [main, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', kill);
  const timer = setTimeout(kill, timeoutMs);
  const exited = new Promise<number | string>((res) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.off('exit', kill);
      res(code ?? signal ?? 'unknown');
    }),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

export interface CleanupResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs the built cleanup (or `main`) to its end (bounded). */
export async function runCleanupCli(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
  main = CLEANUP_MAIN,
): Promise<CleanupResult> {
  const p = startCleanupCli(args, env, timeoutMs, main);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Waits until `check` holds for the process's stderr, or fails after `timeoutMs`. */
export async function waitForStderr(
  p: CleanupProcess,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(p.stderr())) {
    if (Date.now() > deadline || p.child.exitCode !== null) {
      throw new Error(`cleanup did not log ${String(pattern)}:\n${p.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
