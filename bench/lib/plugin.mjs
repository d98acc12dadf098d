// The built plugin as a child process, and calls to its unix socket exactly as dockerd sends them.
import { existsSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';

import { freePorts, removeDir, rssBytes, spawnDaemon, tail, tempDir, waitFor } from './proc.mjs';

export const ROOT = resolve(import.meta.dirname, '../..');
export const PLUGIN_MAIN = join(ROOT, 'dist/apps/ipam/src/main.js');

/**
 * @typedef {object} BenchPlugin
 * @property {number} pid
 * @property {number} spawnedAt     performance.now() at spawn
 * @property {string} socketPath
 * @property {string} driverName
 * @property {string} healthUrl
 * @property {string} logFile
 * @property {() => boolean} running
 * @property {() => number | undefined} rss
 * @property {() => string} logTail
 * @property {() => Promise<number | string>} stop
 */

/**
 * Spawns `node dist/apps/ipam/src/main.js` with its own socket and health port. Does not wait.
 * @param {{ endpoints: string[], prefix: string, nodeId: string, env?: Record<string, string>,
 *   nodeArgs?: string[] }} opts
 * @returns {Promise<BenchPlugin>}
 */
export async function spawnPlugin(opts) {
  if (!existsSync(PLUGIN_MAIN)) {
    throw new Error(`${PLUGIN_MAIN} is missing: run npm run build first`);
  }
  const { dir } = tempDir('kipam-bench-plugin');
  const driverName = 'kipam-bench';
  const socketPath = join(dir, `${driverName}.sock`);
  const logFile = join(dir, 'plugin.log');
  const [healthPort] = await freePorts(1);
  const spawnedAt = performance.now();
  const daemon = spawnDaemon(process.execPath, [...(opts.nodeArgs ?? []), PLUGIN_MAIN], {
    logFile,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ID: opts.nodeId,
      ETCD_ENDPOINT: opts.endpoints.join(','),
      ETCD_PREFIX: opts.prefix,
      LOG_LEVEL: 'info',
      KONTENA_IPAM_SOCKET: socketPath,
      KONTENA_IPAM_HEALTH_LISTEN: `127.0.0.1:${healthPort}`,
      ...opts.env,
    },
  });
  return {
    pid: daemon.pid,
    spawnedAt,
    socketPath,
    driverName,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    logFile,
    running: daemon.running,
    rss: () => rssBytes(daemon.pid),
    logTail: () => tail(logFile),
    async stop() {
      const exited = await daemon.stop('SIGTERM', 10_000);
      removeDir(dir);
      return exited;
    },
  };
}

/**
 * Resolves once GET /readyz answers 200.
 * @param {BenchPlugin} plugin
 * @param {number} [timeoutMs]
 */
export async function waitReady(plugin, timeoutMs = 30_000) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await waitFor(
      'the plugin to answer GET /readyz with 200',
      timeoutMs,
      async () => {
        if (!plugin.running()) {
          throw new Error(`the plugin exited:\n${plugin.logTail()}`);
        }
        const status = await httpStatus(`${plugin.healthUrl}/readyz`, agent);
        return status === 200 ? true : undefined;
      },
      5,
    );
  } finally {
    agent.destroy();
  }
}

/**
 * @param {string} url
 * @param {Agent} agent
 * @returns {Promise<number>}
 */
function httpStatus(url, agent) {
  return new Promise((resolvePromise, reject) => {
    const req = request(url, { agent, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolvePromise(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * @typedef {object} WireReply
 * @property {number} status
 * @property {Record<string, unknown> | undefined} body
 * @property {string} text
 */

/**
 * A caller for one socket with a keep-alive agent (dockerd keeps its plugin connections alive).
 * Each call is what dockerd's plugin client sends: `POST /<Method>`, HTTP/1.1, no Content-Type,
 * the plugin Accept header, a JSON body with a trailing newline (json.Encoder), Go's nil maps
 * as `null`.
 * @param {string} socketPath
 * @param {number} [maxSockets]
 */
export function pluginCaller(socketPath, maxSockets = 64) {
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  /**
   * @param {string} method
   * @param {unknown} [body]
   * @returns {Promise<WireReply>}
   */
  const call = (method, body) =>
    send(method, body === undefined ? '' : `${JSON.stringify(body)}\n`);
  /**
   * @param {string} method
   * @param {string} payload
   * @param {boolean} [again] a retry already
   * @returns {Promise<WireReply>}
   */
  const send = (method, payload, again = false) =>
    new Promise((resolvePromise, reject) => {
      const req = request(
        {
          agent,
          socketPath,
          path: `/${method}`,
          method: 'POST',
          headers: {
            Host: 'plugin.moby.localhost',
            'User-Agent': 'Go-http-client/1.1',
            Accept: 'application/vnd.docker.plugins.v1.2+json',
            'Accept-Encoding': 'gzip',
            'Content-Length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed;
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
            resolvePromise({ status: res.statusCode ?? 0, body: parsed, text });
          });
          res.on('error', reject);
        },
      );
      req.on('error', (err) => {
        // The server closed an idle keep-alive connection just as it was reused (Node closes
        // them after 5 s): the request never reached it. Send it again once, as Go's HTTP
        // client (dockerd's) does for a reused connection that fails before any reply.
        const code = /** @type {NodeJS.ErrnoException} */ (err).code;
        if (!again && req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) {
          send(method, payload, true).then(resolvePromise, reject);
        } else {
          reject(err);
        }
      });
      req.end(payload);
    });
  return { call, close: () => agent.destroy() };
}
