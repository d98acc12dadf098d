// Issue 5, item 3: crash safety. Two plugin processes (two NODE_IDs) on one etcd serve 1,000
// mixed pool and address operations (RequestPool static, dynamic, shared and private;
// ReleasePool; RequestAddress dynamic and static; ReleaseAddress), in bursts of 8 in flight, while
// a killer SIGKILLs one of them at random moments (0.5-2 s after the last restart serves, then
// while the victim has calls in flight; seeded) and restarts it with the same NODE_ID on the same
// socket. Calls in flight on a killed plugin fail with connection errors (counted); no other
// failure than a 400 is accepted. Afterwards `kontena-ipam-cleanup --check` must find the store
// consistent, and a raw dump of etcd must show no overlapping pools and no address stored in two
// overlapping pools.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { CheckReport } from '../../apps/cleanup/src/check.js';
import { runCleanupCli } from '../cleanup/cleanup-process.js';
import {
  httpGet,
  pluginCall,
  startPlugin,
  type PluginProcess,
  type WireReply,
} from '../e2e/plugin-process.js';
import { RawEtcd } from '../int/harness.js';
import { containerOptions } from '../support/docker-calls.js';
import { uniquePrefix } from '../support/prefix.js';

const endpoints = inject('etcdEndpoints');
const OPERATIONS = 1_000;
const IN_FLIGHT = 8;
/** Set CRASH_SEED to replay a run's choices (the interleaving still depends on timing). */
const SEED = Number(process.env.CRASH_SEED ?? 20_240_503);
/**
 * The pause before each kill, counted from when the last restarted plugin serves again: a
 * restart takes seconds here, and killing the only plugin that serves would stop all traffic.
 */
const KILL_EVERY_MS: [number, number] = [500, 2_000];
/**
 * The operations are paced to last about this many kill cycles (a pause and a restart each), so
 * that a fast machine does not finish them between two kills; a slow one is not slowed down.
 */
const KILL_CYCLES = 8;
const MAX_PACED_RUN_MS = 75_000;
const CALL_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 30_000;

/** Static shared pools; `wide` overlaps the first four (a 400 once any of them exists). */
const STATIC_POOLS = [
  { name: 's0', pool: '10.100.0.0/24' },
  { name: 's1', pool: '10.100.1.0/24' },
  { name: 's2', pool: '10.100.2.0/24' },
  { name: 's3', pool: '10.100.3.0/24' },
  { name: 'wide', pool: '10.100.0.0/22' },
  { name: 'ranged', pool: '10.101.0.0/16', subPool: '10.101.128.0/17' },
];
const DYNAMIC_POOLS = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];

/** mulberry32: a small seeded PRNG, so that a failing run's choices can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

// IPv4 math of its own, so that the raw check does not rely on the code under test.
function ipNumber(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}
function ipText(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}
function span(cidr: string): [number, number] {
  const [ip = '', len = ''] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  const start = ipNumber(ip) - (ipNumber(ip) % size);
  return [start, start + size - 1];
}
function overlap(a: string, b: string): boolean {
  const [s1, e1] = span(a);
  const [s2, e2] = span(b);
  return s1 <= e2 && s2 <= e1;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

interface CrashNode {
  id: string;
  socket: string;
  plugin?: PluginProcess;
  up: boolean;
  /** Calls sent to this node and not answered yet. */
  inflight: number;
  /** One entry per pool reference this node was granted (and has not released). */
  pools: { id: string; subnet: string }[];
  addresses: { pool: string; ip: string }[];
}

describe('crash safety', () => {
  let prefix: string;
  let raw: RawEtcd;
  let dir: string;
  let nodes: CrashNode[] = [];
  /** How long each (re)start took until /readyz answered 200. */
  const startMs: number[] = [];
  /** Plugins that exited although nobody stopped them: a crash of their own. */
  const crashed: string[] = [];
  const stopping = new Set<PluginProcess>();
  /** Aborted when the operations are done, the killer failed or the test is torn down. */
  const stop = new AbortController();
  /** The killer, awaited before the plugins are stopped (it may be restarting one). */
  let killing: Promise<void> = Promise.resolve();

  const pluginEnv = (node: CrashNode): Record<string, string> => ({
    NODE_ID: node.id,
    ETCD_ENDPOINT: endpoints.join(','),
    ETCD_PREFIX: prefix,
    ETCD_WAIT_TIMEOUT: '20',
    // info: start() waits for the line that says both listeners are up
    LOG_LEVEL: 'info',
    // The same socket on every restart, as dockerd knows it; the stale file of a killed plugin
    // is removed by the next one (nothing answers on it).
    KONTENA_IPAM_SOCKET: node.socket,
  });

  /**
   * Starts the node's plugin and waits until it serves: it logged that both of its listeners are
   * up (so the health port answering is its own, not another process's that took the port
   * first) and /readyz is 200 (etcd answers). Not Plugin.Activate: the early socket answers the
   * handshake while the plugin still loads. A start that fails (a health port taken by another
   * test on this machine meanwhile) is tried again, twice at most.
   */
  const start = async (node: CrashNode, attempt = 1): Promise<void> => {
    const spawned = Date.now();
    const plugin = await startPlugin({ env: pluginEnv(node), waitForSocket: false });
    node.plugin = plugin;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (plugin.child.exitCode !== null || plugin.child.signalCode !== null) {
        await plugin.stop();
        if (attempt < 3 && /cannot start/.test(plugin.output())) {
          console.warn(`plugin ${node.id} could not start, again:\n${plugin.output()}`);
          return start(node, attempt + 1);
        }
        throw new Error(`plugin ${node.id} exited while starting:\n${plugin.output()}`);
      }
      const ready = plugin.output().includes('serving /healthz, /readyz and /metrics on')
        ? await httpGet(`${plugin.healthUrl}/readyz`).catch(() => undefined)
        : undefined;
      if (ready?.status === 200) {
        node.up = true;
        startMs.push(Date.now() - spawned);
        // From now on an exit that nobody asked for is a crash of the plugin's own.
        void plugin.exited.then((code) => {
          if (!stopping.has(plugin)) {
            node.up = false;
            crashed.push(
              `${node.id} exited by itself (${code}):\n${plugin.output().slice(-3_000)}`,
            );
          }
        });
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(`plugin ${node.id} did not serve within ${START_TIMEOUT_MS} ms`);
      }
      await sleep(50);
    }
  };

  beforeAll(async () => {
    prefix = uniquePrefix('crash');
    raw = new RawEtcd(endpoints, prefix);
    dir = mkdtempSync(join(tmpdir(), 'kipam-crash-'));
    nodes = ['node-a', 'node-b'].map((id) => ({
      id,
      socket: join(dir, `crash-${id}.sock`),
      up: false,
      inflight: 0,
      pools: [],
      addresses: [],
    }));
    await Promise.all(nodes.map(start));
  });

  afterAll(async () => {
    stop.abort();
    await Promise.race([killing, sleep(START_TIMEOUT_MS)]);
    await Promise.all(
      nodes.map(async (n) => {
        if (n.plugin) {
          stopping.add(n.plugin);
          await n.plugin.stop('SIGKILL');
        }
      }),
    );
    rmSync(dir, { recursive: true, force: true });
    await raw?.client.delete().prefix(`${prefix}/`);
    raw?.close();
  });

  it('should leave a consistent store after 1,000 operations under random SIGKILLs', async () => {
    const started = Date.now();
    const cycleMs = (KILL_EVERY_MS[0] + KILL_EVERY_MS[1]) / 2 + Math.max(...startMs);
    const paceMs = Math.min(KILL_CYCLES * cycleMs, MAX_PACED_RUN_MS) / OPERATIONS;
    const rng = prng(SEED);
    const killerRng = prng(SEED ^ 0x9e3779b9);
    const statuses = new Map<string, number>();
    const transport = new Map<string, number>();
    const unexpected: string[] = [];
    let issued = 0;
    let kills = 0;
    let restarts = 0;
    let killerFailed: unknown;

    /** One plugin call; undefined when the connection failed (the plugin was killed). */
    const call = async (
      node: CrashNode,
      method: string,
      body: unknown,
    ): Promise<WireReply | undefined> => {
      let reply: WireReply;
      node.inflight++;
      try {
        reply = await pluginCall(node.socket, method, body, { timeoutMs: CALL_TIMEOUT_MS });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : '?');
        count(transport, code);
        return undefined;
      } finally {
        node.inflight--;
      }
      const err = typeof reply.body?.Err === 'string' ? reply.body.Err : '';
      count(
        statuses,
        `${reply.status}${err ? ` ${err.replace(/[\d.]+\/?\d*|local-[\w-]+/g, 'X')}` : ''}`,
      );
      if (reply.status !== 200 && reply.status !== 400) {
        unexpected.push(`${method} on ${node.id}: ${reply.status} ${reply.text}`);
      }
      return reply;
    };

    /** A node that is serving now (the killer takes one down at a time). */
    const upNode = async (): Promise<CrashNode> => {
      const deadline = Date.now() + START_TIMEOUT_MS * 2;
      for (;;) {
        const up = nodes.filter((n) => n.up);
        const pick = up[Math.floor(rng() * up.length)];
        if (pick) {
          return pick;
        }
        if (Date.now() > deadline) {
          throw new Error('no plugin is up');
        }
        await sleep(20);
      }
    };

    const pick = <T>(list: T[]): T | undefined => list[Math.floor(rng() * list.length)];
    const takeOut = <T>(list: T[]): T | undefined =>
      list.splice(Math.floor(rng() * list.length), 1)[0];

    const requestPool = async (node: CrashNode): Promise<void> => {
      const dice = rng();
      let body: Record<string, unknown>;
      if (dice < 0.4) {
        const p = pick(STATIC_POOLS) ?? STATIC_POOLS[0];
        body = {
          Pool: p?.pool,
          ...(p?.subPool ? { SubPool: p.subPool } : {}),
          Options: { network: p?.name },
        };
      } else if (dice < 0.8) {
        body = { Options: { network: pick(DYNAMIC_POOLS) } };
      } else {
        body = { Options: {} };
      }
      const reply = await call(node, 'IpamDriver.RequestPool', {
        AddressSpace: 'GlobalDefault',
        ...body,
      });
      const id = reply?.body?.PoolID;
      const subnet = reply?.body?.Pool;
      if (reply?.status === 200 && typeof id === 'string' && typeof subnet === 'string') {
        node.pools.push({ id, subnet });
      }
    };

    const requestAddress = async (node: CrashNode, fixed: boolean): Promise<void> => {
      const pool = pick(node.pools);
      if (!pool) {
        return requestPool(node);
      }
      let address: string | undefined;
      if (fixed) {
        // Any host but the network, gateway (first host) and broadcast addresses.
        const [first, last] = span(pool.subnet);
        address = ipText(first + 2 + Math.floor(rng() * (last - first - 2)));
      }
      const reply = await call(node, 'IpamDriver.RequestAddress', {
        PoolID: pool.id,
        ...(address ? { Address: address } : {}),
        // A container's request, with its MAC: a static one without options is an aux address.
        Options: containerOptions(),
      });
      const got = reply?.body?.Address;
      if (reply?.status === 200 && typeof got === 'string') {
        node.addresses.push({ pool: pool.id, ip: got.split('/')[0] ?? '' });
      }
    };

    const operation = async (): Promise<void> => {
      const node = await upNode();
      const dice = rng();
      if (dice < 0.25 || node.pools.length === 0) {
        await requestPool(node);
      } else if (dice < 0.4) {
        // Forgotten before the call: a reply lost to a kill leaves an extra reference at worst.
        const pool = takeOut(node.pools);
        await call(node, 'IpamDriver.ReleasePool', { PoolID: pool?.id });
      } else if (dice < 0.7) {
        await requestAddress(node, false);
      } else if (dice < 0.8) {
        await requestAddress(node, true);
      } else {
        const a = takeOut(node.addresses);
        if (a) {
          await call(node, 'IpamDriver.ReleaseAddress', { PoolID: a.pool, Address: a.ip });
        } else {
          await requestAddress(node, false);
        }
      }
    };

    const killer = async (): Promise<void> => {
      for (;;) {
        const [min, max] = KILL_EVERY_MS;
        try {
          await sleep(min + killerRng() * (max - min), undefined, { signal: stop.signal });
        } catch {
          return; // the operations are done
        }
        const victim = nodes[killerRng() < 0.5 ? 0 : 1];
        if (!victim?.plugin) {
          continue;
        }
        // The moment: while the victim has calls in flight (between the pauses of the pacing),
        // a few milliseconds into them: before, during or after their etcd transaction.
        const waitUntil = Date.now() + 2 * KILL_EVERY_MS[1];
        while (victim.inflight === 0 && Date.now() < waitUntil && !stop.signal.aborted) {
          await sleep(2);
        }
        await sleep(killerRng() * 15);
        victim.up = false;
        stopping.add(victim.plugin);
        await victim.plugin.stop('SIGKILL');
        kills++;
        await start(victim);
        restarts++;
      }
    };

    killing = killer().catch((e: unknown) => {
      killerFailed = e;
      stop.abort();
    });
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (issued < OPERATIONS && !stop.signal.aborted) {
          // In bursts of IN_FLIGHT calls, so that a kill finds several in flight.
          const due = started + Math.floor(issued++ / IN_FLIGHT) * IN_FLIGHT * paceMs;
          if (due > Date.now()) {
            await sleep(due - Date.now());
          }
          await operation();
        }
      }),
    );
    stop.abort();
    await killing;
    if (killerFailed !== undefined) {
      throw killerFailed;
    }
    const opsMs = Date.now() - started;
    expect(crashed).toEqual([]);

    // Both plugins stop cleanly: nothing but etcd holds state.
    for (const n of nodes) {
      expect(n.plugin?.child.exitCode ?? null, `${n.id} exited on its own`).toBeNull();
      n.up = false;
      if (n.plugin) {
        stopping.add(n.plugin);
      }
      expect(await n.plugin?.stop()).toBe(0);
    }

    const failed = [...transport.values()].reduce((a, b) => a + b, 0);
    console.log(
      `seed ${SEED}: ${OPERATIONS} operations in ${opsMs} ms (paced to >= ${Math.round(paceMs * OPERATIONS)} ms); ${kills} kills, ${restarts} restarts; ` +
        `restarts took ${Math.min(...startMs)}-${Math.max(...startMs)} ms; ` +
        `${failed} calls failed on a killed plugin (${[...transport].map(([k, v]) => `${v} × ${k}`).join(', ')}); ` +
        `replies: ${[...statuses]
          .sort((x, y) => y[1] - x[1])
          .map(([k, v]) => `${v} × ${k}`)
          .join('; ')}`,
    );

    // The consistency check, as an operator runs it.
    const check = await runCleanupCli(['--check', '--json'], {
      NODE_ID: 'checker',
      ETCD_ENDPOINT: endpoints.join(','),
      ETCD_PREFIX: prefix,
      LOG_LEVEL: 'warn',
    });
    const report = JSON.parse(check.stdout) as CheckReport;
    console.log(
      `--check at revision ${report.revision}: ${JSON.stringify(report.counts)}; ` +
        `${report.violations.length} violations, ${report.notes.length} notes`,
    );
    expect(report.violations).toEqual([]);
    expect({ code: check.code, stderr: check.stderr }).toMatchObject({ code: 0 });
    expect(report.counts.pools).toBeGreaterThan(0);

    // Belt and braces, from a raw dump: no two pools overlap, and no address is stored in two
    // pools whose subnets overlap.
    const dump = await raw.dump();
    const subnets = new Map<string, string>();
    const holders = new Map<string, string[]>();
    for (const [key, value] of Object.entries(dump)) {
      const [kind, pool = '', ip] = key.split('/');
      if (kind === 'pools') {
        subnets.set(pool, (value as { subnet: string }).subnet);
      } else if (kind === 'addresses' && ip !== undefined) {
        holders.set(ip, [...(holders.get(ip) ?? []), pool]);
      }
    }
    const overlapping: string[] = [];
    const pools = [...subnets];
    pools.forEach(([id, subnet], i) => {
      for (const [other, otherSubnet] of pools.slice(i + 1)) {
        if (overlap(subnet, otherSubnet)) {
          overlapping.push(`${id} ${subnet} overlaps ${other} ${otherSubnet}`);
        }
      }
    });
    expect(overlapping).toEqual([]);
    const doubled: string[] = [];
    for (const [ip, in_] of holders) {
      for (const [i, a] of in_.entries()) {
        for (const b of in_.slice(i + 1)) {
          const sa = subnets.get(a);
          const sb = subnets.get(b);
          if (sa === undefined || sb === undefined || overlap(sa, sb)) {
            doubled.push(`${ip} in pools ${a} (${sa ?? 'missing'}) and ${b} (${sb ?? 'missing'})`);
          }
        }
      }
    }
    expect(doubled).toEqual([]);

    expect(unexpected).toEqual([]);
    expect(issued).toBeGreaterThanOrEqual(OPERATIONS);
    expect(kills).toBeGreaterThanOrEqual(KILL_CYCLES / 2);
    expect(restarts).toBe(kills);
  }, 180_000);
});
