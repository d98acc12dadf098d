// The benchmark's etcd: one member on free loopback ports with fixed flags, data on tmpfs when
// there is one; or the cluster named by ETCD_ENDPOINT. Also the raw client the baseline uses.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';

import { freePorts, removeDir, spawnDaemon, tail, tempDir, waitFor } from './proc.mjs';

const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';

/** The per-call timeout of the plugin's store (libs/store/src/etcd-connection.ts CALL_TIMEOUT_MS). */
export const CALL_TIMEOUT_MS = 5_000;

/**
 * @typedef {object} BenchEtcd
 * @property {string[]} endpoints
 * @property {boolean} external  true when ETCD_ENDPOINT named it
 * @property {string} version
 * @property {string[]} flags    the command line (empty for an external etcd)
 * @property {string} dataDir
 * @property {boolean} tmpfs
 * @property {number | undefined} pid  the member's process (undefined for an external etcd)
 * @property {() => Promise<void>} stop
 */

/**
 * @param {Response} res
 * @returns {Promise<Record<string, unknown>>}
 */
async function jsonObject(res) {
  /** @type {unknown} */
  const body = await res.json();
  return typeof body === 'object' && body !== null ? Object.fromEntries(Object.entries(body)) : {};
}

/**
 * @returns {Promise<BenchEtcd>}
 */
export async function startEtcd() {
  const given = process.env.ETCD_ENDPOINT?.trim();
  if (given) {
    const endpoints = given
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const version = await waitFor(`etcd at ${endpoints[0]}`, 10_000, async () => {
      const res = await fetch(`${endpoints[0]}/version`, { signal: AbortSignal.timeout(2000) });
      const body = await jsonObject(res);
      return typeof body.etcdserver === 'string' ? body.etcdserver : 'unknown';
    });
    return {
      endpoints,
      external: true,
      version,
      flags: [],
      dataDir: '(external)',
      tmpfs: false,
      pid: undefined,
      stop: async () => undefined,
    };
  }

  const { dir, tmpfs } = tempDir('kipam-bench-etcd');
  const [clientPort, peerPort] = await freePorts(2);
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const flags = [
    '--name=bench',
    `--data-dir=${join(dir, 'data')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=bench=${peerUrl}`,
    '--initial-cluster-state=new',
    '--initial-cluster-token=kipam-bench',
    // etcd 3.4 defaults, spelled out so that results name them
    '--snapshot-count=100000',
    '--quota-backend-bytes=2147483648',
    '--max-txn-ops=128',
    '--max-request-bytes=1572864',
    '--logger=zap',
    '--log-level=error',
    `--log-outputs=${join(dir, 'etcd.log')}`,
  ];
  const daemon = spawnDaemon(ETCD_BIN, flags, { logFile: join(dir, 'stdout.log') });
  const stop = async () => {
    await daemon.stop('SIGTERM', 5_000);
    removeDir(dir);
  };
  try {
    await waitFor(
      `etcd at ${clientUrl} /health`,
      20_000,
      async () => {
        if (!daemon.running()) {
          throw new Error(`etcd exited: ${tail(join(dir, 'stdout.log'))}`);
        }
        const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
        const body = await jsonObject(res);
        return body.health === 'true' || body.health === true ? true : undefined;
      },
      25,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  const versionOut = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const version = /etcd Version:\s*(\S+)/.exec(versionOut)?.[1] ?? 'unknown';
  return {
    endpoints: [clientUrl],
    external: false,
    version,
    flags: [ETCD_BIN, ...flags],
    dataDir: dir,
    tmpfs,
    pid: daemon.pid,
    stop,
  };
}

/**
 * An etcd3 client with the options the plugin's EtcdConnection uses (libs/store/src/etcd-connection.ts
 * `clientOptions()`): every endpoint, a 5 s dial timeout, etcd3's global retry policy off, and a
 * 5 s deadline on every unary call.
 * @param {string[]} endpoints
 */
export function pluginLikeClient(endpoints) {
  return new Etcd3({
    hosts: endpoints,
    dialTimeout: CALL_TIMEOUT_MS,
    faultHandling: { global: noop },
    defaultCallOptions: (ctx) =>
      ctx.isStream ? {} : { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) },
  });
}

/** The per-call options the store passes on each call (`withEtcd`). */
export function callOptions() {
  return { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) };
}

/**
 * Writes key/value pairs with transactions of `batch` puts (etcd's --max-txn-ops is 128),
 * `parallel` transactions at a time.
 * @param {Etcd3} client
 * @param {Iterable<[string, string]>} entries
 * @param {{ batch?: number, parallel?: number }} [opts]
 * @returns {Promise<number>} how many were written
 */
export async function putBatched(client, entries, opts = {}) {
  const batch = opts.batch ?? 128;
  const parallel = opts.parallel ?? 4;
  const iterator = entries[Symbol.iterator]();
  let written = 0;
  const worker = async () => {
    for (;;) {
      const success = [];
      for (let i = 0; i < batch; i++) {
        const next = iterator.next();
        if (next.done) {
          break;
        }
        const [key, value] = next.value;
        success.push({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } });
      }
      if (success.length === 0) {
        return;
      }
      await client.kv.txn({ compare: [], success, failure: [] }, callOptions());
      written += success.length;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return written;
}

/**
 * How many keys start with `prefix`.
 * @param {Etcd3} client
 * @param {string} prefix
 */
export async function countPrefix(client, prefix) {
  return client.getAll().prefix(prefix).count();
}
