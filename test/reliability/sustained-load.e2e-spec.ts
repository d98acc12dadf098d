// Issue 5, item 6: two plugin processes, 64 concurrent clients, 60 s of mixed requests and
// releases of addresses (and some pool churn): no address held by two clients at once, no error
// other than exhaustion, etcd holding exactly what the clients hold, and flat memory (RSS of
// each plugin after warm-up and at the end).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RawEtcd } from '../int/harness.js';
import { startPlugin } from '../e2e/plugin-process.js';
import { uniquePrefix } from '../support/prefix.js';
import {
  assertStatus,
  rssMiB,
  runClients,
  storedEndpoints,
  summarize,
  timedCall,
  type NodePlugin,
  type TimedReply,
} from './calls.js';

const endpoints = inject('etcdEndpoints');
const CLIENTS = 64;
const RUN_MS = 60_000;
/**
 * V8 sizes its heap to the load during the first tens of seconds (measured here: RSS rises by
 * 60-80 MiB, then stays flat for minutes); memory is compared from the end of that ramp on.
 */
const WARM_UP_MS = 20_000;
const SAMPLE_MS = 5_000;
const POOL = 'load';
/** 10.60.0.0/23: 509 addresses besides the gateway; 64 clients may hold up to 768. */
const SUBNET = '10.60.0.0/23';
const MAX_HELD = 12;
const CHURN_POOLS = 4;

const byIp = (x: [string, string], y: [string, string]): number => x[0].localeCompare(y[0]);

describe('sustained load', () => {
  let prefix: string;
  let raw: RawEtcd;
  let nodes: NodePlugin[] = [];

  beforeAll(async () => {
    prefix = uniquePrefix('load');
    raw = new RawEtcd(endpoints, prefix);
    nodes = await Promise.all(
      ['node-a', 'node-b'].map(async (node) => ({
        node,
        plugin: await startPlugin({
          env: {
            NODE_ID: node,
            ETCD_ENDPOINT: endpoints.join(','),
            ETCD_PREFIX: prefix,
            ETCD_WAIT_TIMEOUT: '30',
            LOG_LEVEL: 'error',
          },
        }),
      })),
    );
    for (const n of nodes) {
      const pool = await timedCall(n, 'IpamDriver.RequestPool', {
        Pool: SUBNET,
        Options: { network: POOL },
      });
      assertStatus(pool, 200);
    }
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.plugin.stop()));
    await raw?.client.delete().prefix(`${prefix}/`);
    raw?.close();
  });

  it('should hand out no address twice and keep its memory flat for 60 s', async () => {
    /** IP → the client holding it, while held. */
    const holder = new Map<string, number>();
    const held: string[][] = Array.from({ length: CLIENTS }, () => []);
    const poolRefs: string[][] = Array.from({ length: CLIENTS }, () => []);
    const duplicates: string[] = [];
    const unexpected: TimedReply[] = [];
    const replies: TimedReply[] = [];
    let exhausted = 0;
    const start = Date.now();
    /** RSS of each plugin, every SAMPLE_MS from the start of the load. */
    const rss = new Map(nodes.map((n) => [n.node, [rssMiB(n.plugin.child.pid ?? 0)]]));
    const sampler = setInterval(() => {
      for (const n of nodes) {
        rss.get(n.node)?.push(rssMiB(n.plugin.child.pid ?? 0));
      }
    }, SAMPLE_MS);

    const record = (r: TimedReply, ok: (r: TimedReply) => boolean): boolean => {
      replies.push(r);
      if (ok(r)) {
        return true;
      }
      if (r.status === 400 && (r.err ?? '').startsWith('no addresses available in pool load: ')) {
        exhausted++;
      } else {
        unexpected.push(r);
      }
      return false;
    };

    await runClients(
      nodes,
      CLIENTS,
      () => Date.now() - start > RUN_MS,
      async (n, client) => {
        const mine = held[client] ?? [];
        const pools = poolRefs[client] ?? [];
        const dice = Math.random();
        if (dice < 0.04) {
          // Pool churn: shared dynamic pools joined, left and deleted by both nodes.
          if (pools.length > 0 && dice < 0.02) {
            const id = pools.pop() ?? '';
            record(
              await timedCall(n, 'IpamDriver.ReleasePool', { PoolID: id }),
              (r) => r.status === 200,
            );
          } else {
            const id = `load-x-${client % CHURN_POOLS}`;
            const r = await timedCall(n, 'IpamDriver.RequestPool', { Options: { network: id } });
            if (record(r, (x) => x.status === 200)) {
              pools.push(id);
            }
          }
        } else if (mine.length === 0 || (mine.length < MAX_HELD && dice < 0.55)) {
          const r = await timedCall(n, 'IpamDriver.RequestAddress', {
            PoolID: POOL,
            Options: null,
          });
          if (record(r, (x) => x.status === 200 && x.address !== undefined)) {
            const ip = r.address?.split('/')[0] ?? '';
            const other = holder.get(ip);
            if (other !== undefined) {
              duplicates.push(`${ip} granted to client ${client} while client ${other} holds it`);
            }
            holder.set(ip, client);
            mine.push(ip);
          }
        } else {
          const ip = mine.splice(Math.floor(Math.random() * mine.length), 1)[0] ?? '';
          // Forgotten before the call: once deleted, anybody may get it again.
          holder.delete(ip);
          record(
            await timedCall(n, 'IpamDriver.ReleaseAddress', { PoolID: POOL, Address: ip }),
            (r) => r.status === 200,
          );
        }
      },
    );
    clearInterval(sampler);
    const elapsed = Date.now() - start;
    for (const n of nodes) {
      rss.get(n.node)?.push(rssMiB(n.plugin.child.pid ?? 0));
    }
    const latencies = replies.map((r) => r.endedAt - r.startedAt).sort((x, y) => x - y);
    const pct = (p: number): number => latencies[Math.floor((latencies.length - 1) * p)] ?? 0;
    console.log(
      `${replies.length} calls in ${elapsed} ms (${Math.round((replies.length * 1000) / elapsed)}/s), ` +
        `latency p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms max ${pct(1)} ms; ${exhausted} × exhausted; ` +
        `${holder.size} addresses held at the end`,
    );
    const atWarmUp = (node: string): number => rss.get(node)?.[WARM_UP_MS / SAMPLE_MS] ?? NaN;
    const atEnd = (node: string): number => rss.get(node)?.at(-1) ?? NaN;
    // A leak keeps every late sample high; one sample can be high only because no major GC has
    // run yet. So the lowest of the last three (15 s) is compared.
    const settled = (node: string): number => Math.min(...(rss.get(node)?.slice(-3) ?? [NaN]));
    for (const n of nodes) {
      console.log(
        `RSS ${n.node}: ${rss.get(n.node)?.[0]} MiB at the start of the load, ${atWarmUp(n.node)} MiB ` +
          `after ${WARM_UP_MS / 1000} s, ${atEnd(n.node)} MiB at the end ` +
          `(every ${SAMPLE_MS / 1000} s: ${rss.get(n.node)?.join(', ')})`,
      );
    }
    expect(duplicates).toEqual([]);
    expect(summarize(unexpected)).toBe('');
    expect(replies.length).toBeGreaterThan(2_000);
    for (const n of nodes) {
      expect(n.plugin.child.exitCode).toBeNull();
      expect(settled(n.node)).toBeLessThan(atWarmUp(n.node) + 64);
    }

    // etcd holds exactly what the clients hold: nothing lost, nothing leaked.
    const stored = await storedEndpoints(raw, POOL);
    const expected = new Map(
      [...holder].map(([ip, client]) => [ip, nodes[client % nodes.length]?.node ?? '']),
    );
    expect([...stored].sort(byIp)).toEqual([...expected].sort(byIp));

    // Everything released: only the pool and its gateway remain; churned pools are gone.
    const finals = await Promise.all(
      held.map(async (ips, client) => {
        const n = nodes[client % nodes.length];
        const out: TimedReply[] = [];
        if (!n) {
          return out;
        }
        for (const ip of ips) {
          out.push(await timedCall(n, 'IpamDriver.ReleaseAddress', { PoolID: POOL, Address: ip }));
        }
        for (const id of poolRefs[client] ?? []) {
          out.push(await timedCall(n, 'IpamDriver.ReleasePool', { PoolID: id }));
        }
        return out;
      }),
    );
    expect(summarize(finals.flat().filter((r) => r.status !== 200))).toBe('');
    expect(await raw.keys('addresses/')).toEqual([`addresses/${POOL}/10.60.0.1`]);
    expect(await raw.keys('pools/')).toEqual([`pools/${POOL}`]);
    expect(await raw.keys('pool-nodes/')).toEqual([
      `pool-nodes/${POOL}/node-a`,
      `pool-nodes/${POOL}/node-b`,
    ]);
  });
});
