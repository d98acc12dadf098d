import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePorts } from '../support/etcd.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const PLUGIN_MAIN = join(ROOT, 'dist/apps/ipam/src/main.js');

export interface PluginProcess {
  readonly socketPath: string;
  readonly driverName: string;
  readonly healthUrl: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after 10 s; removes the temporary directory. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartPluginOptions {
  env: Record<string, string>;
  /** Driver name: the socket file is `<dir>/<name>.sock`. */
  driverName?: string;
  /** Wait for the socket to appear (default true). */
  waitForSocket?: boolean;
  /** Options for node before the plugin's main, e.g. a test-only `--import` preload. */
  nodeArgs?: string[];
  /**
   * Run the plugin in this network namespace (`/run/netns/<name>`, a dockerd fixture's `netns`):
   * it then reads that namespace's routes, as a plugin beside that dockerd would. etcd must be
   * reachable from there (netns-bridge.ts).
   */
  netns?: string;
}

/** Starts the built plugin (`dist/`) as dockerd would find it: a process with a unix socket. */
export async function startPlugin(opts: StartPluginOptions): Promise<PluginProcess> {
  if (!existsSync(PLUGIN_MAIN)) {
    throw new Error(`${PLUGIN_MAIN} is missing: run npm run build before the e2e tests`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'kipam-'));
  const driverName = opts.driverName ?? `kipam-${Math.random().toString(36).slice(2, 8)}`;
  const socketPath = join(dir, `${driverName}.sock`);
  const [healthPort] = await freePorts(1);
  const node = [process.execPath, ...(opts.nodeArgs ?? []), PLUGIN_MAIN];
  // nsenter execs node after entering the namespace: the child's pid is the plugin's.
  const [cmd, ...args] = opts.netns ? ['nsenter', `--net=/run/netns/${opts.netns}`, ...node] : node;
  const child = spawn(cmd!, args, {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LOG_LEVEL: 'debug',
      KONTENA_IPAM_SOCKET: socketPath,
      KONTENA_IPAM_HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      KONTENA_IPAM_AVOID_HOST_ROUTES: 'false',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | string>((res) =>
    child.once('exit', (code, signal) => res(code ?? signal ?? 'unknown')),
  );
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);

  const plugin: PluginProcess = {
    socketPath,
    driverName,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      process.off('exit', onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
  if (opts.waitForSocket ?? true) {
    const deadline = Date.now() + 15_000;
    while (!existsSync(socketPath)) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await plugin.stop('SIGKILL');
        throw new Error(`plugin did not create ${socketPath}:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return plugin;
}

export interface WireReply {
  status: number;
  contentType: string | undefined;
  text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  body: Record<string, unknown> | undefined;
}

/** Sockets that already carry pluginCall's EPIPE guard (keep-alive sockets are reused). */
const quietSockets = new WeakSet<object>();

/**
 * One plugin call exactly as dockerd sends it: `POST /<Method>`, no Content-Type, the vendor
 * Accept header, a JSON body with a trailing newline (or an empty body when there are no args).
 */
export function pluginCall(
  socketPath: string,
  method: string,
  body?: unknown,
  opts: {
    raw?: string | Buffer;
    httpMethod?: string;
    timeoutMs?: number;
    /** Called once the whole request has been written to the socket. */
    onSent?: () => void;
  } = {},
): Promise<WireReply> {
  const payload =
    opts.raw !== undefined ? opts.raw : body === undefined ? '' : `${JSON.stringify(body)}\n`;
  return new Promise((resolvePromise, reject) => {
    const req = request(
      {
        socketPath,
        path: `/${method}`,
        method: opts.httpMethod ?? 'POST',
        headers: {
          Host: 'plugin.moby.localhost',
          Accept: 'application/vnd.docker.plugins.v1.2+json',
          'Content-Length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: Record<string, unknown> | undefined;
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            parsed = undefined;
          }
          resolvePromise({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            text,
            body: parsed,
          });
        });
      },
    );
    req.setTimeout(opts.timeoutMs ?? 90_000, () => req.destroy(new Error(`${method} timed out`)));
    req.on('error', reject);
    // A server that answers early (413) and closes makes the rest of a large write fail with
    // EPIPE on the socket after the request has let go of it: expected, not a test error.
    // Once per socket: a keep-alive socket serves many requests.
    req.on('socket', (socket) => {
      if (!quietSockets.has(socket)) {
        quietSockets.add(socket);
        socket.on('error', () => undefined);
      }
    });
    if (opts.onSent) {
      req.on('finish', opts.onSent);
    }
    req.end(payload);
  });
}

export async function httpGet(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

/** Polls until `check` returns true, failing with `what` after `timeoutMs`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
