// A 3-member etcd cluster on loopback for the fleet benchmark (bench/fleet.mjs): the flags of
// bench/lib/etcd.mjs, one data dir per member on tmpfs when there is one, and each member's
// /metrics and CPU time, so that a run can say what the fleet cost etcd.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  cpuMs,
  freePorts,
  removeDir,
  rssBytes,
  spawnDaemon,
  tail,
  tempDir,
  waitFor,
} from './proc.mjs';

const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';

/**
 * @typedef {object} ClusterMember
 * @property {string} name
 * @property {number} pid
 * @property {string} clientUrl
 * @property {string} logFile
 * @property {() => boolean} running
 */

/**
 * @typedef {object} EtcdCluster
 * @property {string[]} endpoints   every member's client URL
 * @property {ClusterMember[]} members
 * @property {string} version
 * @property {string[]} flags       the first member's command line (the others differ in name and URLs)
 * @property {string} dataDir
 * @property {boolean} tmpfs
 * @property {() => Promise<void>} stop
 */

/**
 * Starts `size` members with one initial-cluster string and waits until every member answers
 * /health (which needs a leader).
 * @param {number} [size]
 * @returns {Promise<EtcdCluster>}
 */
export async function startEtcdCluster(size = 3) {
  const { dir, tmpfs } = tempDir('kipam-fleet-etcd');
  const ports = await freePorts(size * 2);
  const names = Array.from({ length: size }, (_, i) => `m${i}`);
  const clientUrls = names.map((_, i) => `http://127.0.0.1:${ports[2 * i]}`);
  const peerUrls = names.map((_, i) => `http://127.0.0.1:${ports[2 * i + 1]}`);
  const initialCluster = names.map((n, i) => `${n}=${peerUrls[i]}`).join(',');
  /** @type {ReturnType<typeof spawnDaemon>[]} */
  const daemons = [];
  /** @type {string[][]} */
  const commandLines = [];
  const members = names.map((name, i) => {
    const memberDir = join(dir, name);
    const flags = [
      `--name=${name}`,
      `--data-dir=${join(memberDir, 'data')}`,
      `--listen-client-urls=${clientUrls[i]}`,
      `--advertise-client-urls=${clientUrls[i]}`,
      `--listen-peer-urls=${peerUrls[i]}`,
      `--initial-advertise-peer-urls=${peerUrls[i]}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=kipam-fleet',
      // etcd 3.4 defaults, spelled out so that results name them (as bench/lib/etcd.mjs)
      '--snapshot-count=100000',
      '--quota-backend-bytes=2147483648',
      '--max-txn-ops=128',
      '--max-request-bytes=1572864',
      '--heartbeat-interval=100',
      '--election-timeout=1000',
      '--logger=zap',
      '--log-level=error',
      `--log-outputs=${join(memberDir, 'etcd.log')}`,
    ];
    mkdirSync(memberDir, { recursive: true });
    const logFile = join(memberDir, 'stdout.log');
    const daemon = spawnDaemon(ETCD_BIN, flags, { logFile });
    daemons.push(daemon);
    commandLines.push([ETCD_BIN, ...flags]);
    return {
      name,
      pid: daemon.pid,
      clientUrl: clientUrls[i] ?? '',
      logFile,
      running: daemon.running,
    };
  });
  const stop = async () => {
    await Promise.all(daemons.map((d) => d.stop('SIGTERM', 5_000)));
    removeDir(dir);
  };
  try {
    for (const m of members) {
      await waitFor(
        `etcd member ${m.name} at ${m.clientUrl} /health`,
        30_000,
        async () => {
          if (!m.running()) {
            throw new Error(`etcd member ${m.name} exited: ${tail(m.logFile)}`);
          }
          const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
          /** @type {unknown} */
          const body = await res.json();
          const health =
            typeof body === 'object' && body !== null && 'health' in body ? body.health : undefined;
          return health === 'true' || health === true ? true : undefined;
        },
        50,
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const versionOut = spawnSync(ETCD_BIN, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return {
    endpoints: clientUrls,
    members,
    version: /etcd Version:\s*(\S+)/.exec(versionOut)?.[1] ?? 'unknown',
    flags: commandLines[0] ?? [],
    dataDir: dir,
    tmpfs,
    stop,
  };
}

/** The counters and gauges a fleet run reads from each member's /metrics. */
const METRICS = {
  dbBytes: 'etcd_mvcc_db_total_size_in_bytes',
  dbInUseBytes: 'etcd_mvcc_db_total_size_in_use_in_bytes',
  keys: 'etcd_debugging_mvcc_keys_total',
  events: 'etcd_debugging_mvcc_events_total',
  watchers: 'etcd_debugging_mvcc_watcher_total',
  watchStreams: 'etcd_debugging_mvcc_watch_stream_total',
  slowWatchers: 'etcd_debugging_mvcc_slow_watcher_total',
  pendingEvents: 'etcd_debugging_mvcc_pending_events_total',
  txns: 'etcd_mvcc_txn_total',
  puts: 'etcd_debugging_mvcc_put_total',
  deletes: 'etcd_debugging_mvcc_delete_total',
  ranges: 'etcd_debugging_mvcc_range_total',
  proposalsCommitted: 'etcd_server_proposals_committed_total',
  leaderChanges: 'etcd_server_leader_changes_seen_total',
  sentBytes: 'etcd_network_client_grpc_sent_bytes_total',
  receivedBytes: 'etcd_network_client_grpc_received_bytes_total',
  walBytes: 'etcd_disk_wal_write_bytes_total',
  isLeader: 'etcd_server_is_leader',
  residentBytes: 'process_resident_memory_bytes',
};

/** @typedef {Record<keyof typeof METRICS, number> & { cpuMs: number, rssBytes: number }} MemberSample */

/**
 * One member's figures now: the unlabelled metrics above, its CPU time and RSS from /proc.
 * @param {ClusterMember} member
 * @returns {Promise<MemberSample>}
 */
export async function sampleMember(member) {
  const text = await (
    await fetch(`${member.clientUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
  ).text();
  /** @type {Record<string, number>} */
  const values = {};
  for (const line of text.split('\n')) {
    // Only unlabelled series: `name value`.
    const m = /^([a-z_]+) (\S+)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) {
      values[m[1]] = Number(m[2]);
    }
  }
  const get = (/** @type {keyof typeof METRICS} */ k) => values[METRICS[k]] ?? NaN;
  return {
    dbBytes: get('dbBytes'),
    dbInUseBytes: get('dbInUseBytes'),
    keys: get('keys'),
    events: get('events'),
    watchers: get('watchers'),
    watchStreams: get('watchStreams'),
    slowWatchers: get('slowWatchers'),
    pendingEvents: get('pendingEvents'),
    txns: get('txns'),
    puts: get('puts'),
    deletes: get('deletes'),
    ranges: get('ranges'),
    proposalsCommitted: get('proposalsCommitted'),
    leaderChanges: get('leaderChanges'),
    sentBytes: get('sentBytes'),
    receivedBytes: get('receivedBytes'),
    walBytes: get('walBytes'),
    isLeader: get('isLeader'),
    residentBytes: get('residentBytes'),
    cpuMs: cpuMs(member.pid) ?? NaN,
    rssBytes: rssBytes(member.pid) ?? NaN,
  };
}

/**
 * Every member's sample.
 * @param {EtcdCluster} cluster
 */
export async function sampleCluster(cluster) {
  return Promise.all(cluster.members.map((m) => sampleMember(m)));
}

/**
 * @param {(s: MemberSample) => number} f
 * @param {MemberSample[]} xs
 */
function sum(f, xs) {
  return xs.reduce((acc, s) => acc + f(s), 0);
}

/**
 * What the cluster did between two samples: counters summed over members (each client's watch
 * stream is served by one member), or taken from the leader where every member counts the same
 * thing (proposals); gauges as of `after`.
 * @param {MemberSample[]} before
 * @param {MemberSample[]} after
 */
export function clusterDelta(before, after) {
  const diff = (/** @type {keyof MemberSample} */ k) =>
    sum((s) => s[k], after) - sum((s) => s[k], before);
  const max = (/** @type {keyof MemberSample} */ k) => Math.max(...after.map((s) => s[k]));
  const proposals = Math.max(
    ...after.map((s, i) => s.proposalsCommitted - (before[i]?.proposalsCommitted ?? 0)),
  );
  return {
    events: diff('events'),
    sentBytes: diff('sentBytes'),
    receivedBytes: diff('receivedBytes'),
    txns: diff('txns'),
    ranges: diff('ranges'),
    proposals,
    walBytesPerMember: diff('walBytes') / after.length,
    cpuMs: diff('cpuMs'),
    cpuMsPerMember: after.map((s, i) => s.cpuMs - (before[i]?.cpuMs ?? 0)),
    leaderChanges: max('leaderChanges') - Math.max(...before.map((s) => s.leaderChanges)),
    slowWatchers: max('slowWatchers'),
    watchers: sum((s) => s.watchers, after),
    watchStreams: sum((s) => s.watchStreams, after),
    dbBytes: max('dbBytes'),
    dbInUseBytes: max('dbInUseBytes'),
    keys: max('keys'),
    rssBytes: after.map((s) => s.rssBytes),
  };
}
