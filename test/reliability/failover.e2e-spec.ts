// Issue 5, item 1: two plugin processes on a real 3-member etcd cluster, ETCD_ENDPOINT naming
// all three. Killing the leader during a stream of allocations costs at most a few clean 503s,
// never an address handed out twice, and calls succeed again within 10 s. With every member
// down, calls wait ETCD_WAIT_TIMEOUT and fail with a clean 503; when etcd is back the same
// processes serve again and /readyz follows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawEtcd } from '../int/harness.js';
import { eventually, httpGet, startPlugin } from '../e2e/plugin-process.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { uniquePrefix } from '../support/prefix.js';
import {
  assertStatus,
  duplicates,
  runClients,
  storedEndpoints,
  summarize,
  timedCall,
  type NodePlugin,
  type TimedReply,
} from './calls.js';

const WAIT_S = 6;
const POOL = 'failover';
const CLIENTS = 8;

/** Only a success or a clean 503 with a message is acceptable. */
function expectCleanReplies(list: readonly TimedReply[]): void {
  const unclean = list.filter(
    (r) => !(r.status === 200 && r.address) && !(r.status === 503 && r.err),
  );
  expect(summarize(unclean)).toBe('');
}

describe('etcd cluster failover', () => {
  let cluster: EtcdCluster;
  let prefix: string;
  let raw: RawEtcd;
  let nodes: NodePlugin[] = [];
  const replies: TimedReply[] = [];

  beforeAll(async () => {
    cluster = await startEtcd({ members: 3, name: 'failover' });
    prefix = uniquePrefix('failover');
    raw = new RawEtcd(cluster.endpoints, prefix);
    nodes = await Promise.all(
      ['node-a', 'node-b'].map(async (node) => ({
        node,
        plugin: await startPlugin({
          env: {
            NODE_ID: node,
            ETCD_ENDPOINT: cluster.endpoints.join(','),
            ETCD_PREFIX: prefix,
            ETCD_WAIT_TIMEOUT: String(WAIT_S),
            LOG_LEVEL: 'info',
          },
        }),
      })),
    );
    for (const n of nodes) {
      const pool = await timedCall(n, 'IpamDriver.RequestPool', {
        Pool: '10.90.0.0/16',
        Options: { network: POOL },
      });
      assertStatus(pool, 200);
    }
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.plugin.stop()));
    raw?.close();
    await cluster?.stop();
  });

  const allocate = async (n: NodePlugin): Promise<TimedReply> => {
    const r = await timedCall(n, 'IpamDriver.RequestAddress', { PoolID: POOL, Options: null });
    replies.push(r);
    return r;
  };

  it('should keep allocating through the loss of the leader, without a duplicate', async () => {
    const start = Date.now();
    let killAt = Number.POSITIVE_INFINITY;
    const streaming = runClients(
      nodes,
      CLIENTS,
      () => Date.now() > killAt + 13_000,
      async (n) => {
        await allocate(n);
      },
    );
    await new Promise((r) => setTimeout(r, 3_000));
    const leader = await cluster.leaderIndex();
    killAt = Date.now();
    await cluster.killMember(leader);
    await streaming;

    const before = replies.filter((r) => r.endedAt < killAt);
    const after = replies.filter((r) => r.startedAt >= killAt);
    const firstSuccess = Math.min(
      ...after.filter((r) => r.status === 200).map((r) => r.endedAt - killAt),
    );
    const late = replies.filter((r) => r.endedAt >= killAt + 10_000);
    const spanning = replies.filter((r) => r.startedAt < killAt && r.endedAt >= killAt);
    console.log(
      `leader m${leader} killed ${killAt - start} ms into the stream; ${before.length} calls before, ` +
        `${replies.length - before.length} after; first success ${firstSuccess} ms after the kill; ` +
        `calls in flight at the kill ended after ${spanning.map((r) => r.endedAt - killAt).join(',')} ms; ` +
        `replies: ${summarize(replies)}`,
    );
    expect(before.length).toBeGreaterThan(10);
    expectCleanReplies(replies);
    expect(duplicates(replies)).toEqual(new Map());
    // Calls succeed again within 10 s, and keep succeeding.
    expect(firstSuccess).toBeLessThan(10_000);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((r) => r.status !== 200)).toEqual([]);
  });

  it('should fail calls with 503 after ETCD_WAIT_TIMEOUT while all members are down, then recover', async () => {
    const pids = nodes.map((n) => n.plugin.child.pid);
    const downAt = Date.now();
    let upAt = 0;
    await Promise.all(
      cluster.members.filter((m) => m.running).map((m) => cluster.killMember(m.index)),
    );
    const outage: TimedReply[] = [];
    const streaming = runClients(
      nodes,
      CLIENTS,
      () => Date.now() > downAt + 20_000,
      async (n) => {
        outage.push(await allocate(n));
      },
    );
    // /readyz reports etcd while it is down; /healthz stays 200.
    const health: { node: string; readyz: string; healthz: number }[] = [];
    try {
      for (const n of nodes) {
        await eventually(
          `${n.node} /readyz 503`,
          async () => (await httpGet(`${n.plugin.healthUrl}/readyz`)).status === 503,
          WAIT_S * 1000 + 6_000,
        );
        health.push({
          node: n.node,
          readyz: JSON.stringify((await httpGet(`${n.plugin.healthUrl}/readyz`)).body),
          healthz: (await httpGet(`${n.plugin.healthUrl}/healthz`)).status,
        });
      }
    } finally {
      await streaming;
      // etcd comes back (whatever happened above, so that the next test has a cluster).
      upAt = Date.now();
      await Promise.all(
        cluster.members.map((m) => cluster.restartMember(m.index, { waitHealthy: false })),
      );
      await cluster.leaderIndex(20_000);
    }
    for (const h of health) {
      expect(h).toEqual({
        node: h.node,
        readyz: expect.stringMatching(/etcd is unreachable at http:\/\/127\.0\.0\.1/),
        healthz: 200,
      });
    }

    // Calls that started once etcd was gone waited the whole timeout, then failed cleanly.
    const waited = outage.filter((r) => r.startedAt > downAt + 500);
    console.log(
      `outage: ${outage.length} calls; durations ${waited.map((r) => r.endedAt - r.startedAt).join(',')} ms; ${summarize(outage)}`,
    );
    expect(waited.length).toBeGreaterThanOrEqual(CLIENTS);
    const unreachable = new RegExp(
      `^etcd is unreachable at http://127\\.0\\.0\\.1:\\d+.*: \\S.* \\(gave up after waiting ${WAIT_S} s\\)$`,
    );
    for (const r of waited) {
      const took = r.endedAt - r.startedAt;
      // The whole wait, and not much more.
      const inBounds = took >= WAIT_S * 1000 - 100 && took < WAIT_S * 1000 + 4_000;
      expect({ status: r.status, err: r.err ?? r.transport, took, inBounds }).toEqual({
        status: 503,
        err: expect.stringMatching(unreachable),
        took,
        inBounds: true,
      });
    }

    // etcd is back: the same processes serve again and report ready.
    for (const n of nodes) {
      await eventually(
        `${n.node} to allocate again`,
        async () => (await allocate(n)).status === 200,
        20_000,
      );
      await eventually(
        `${n.node} /readyz 200`,
        async () => (await httpGet(`${n.plugin.healthUrl}/readyz`)).status === 200,
        10_000,
      );
    }
    console.log(`recovered ${Date.now() - upAt} ms after the members were restarted`);
    expect(nodes.map((n) => n.plugin.child.pid)).toEqual(pids);
    expect(nodes.map((n) => n.plugin.child.exitCode)).toEqual([null, null]);
    expectCleanReplies(replies);
    expect(duplicates(replies)).toEqual(new Map());
  });

  it('should have stored every granted address under the node that got it', async () => {
    const stored = await storedEndpoints(raw, POOL);
    const granted = replies.filter((r) => r.status === 200 && r.address);
    const owners = granted.map((r) => [r.address, stored.get(r.address?.split('/')[0] ?? '')]);
    expect(owners).toEqual(granted.map((r) => [r.address, r.node]));
    // A 503 may hide a commit (the reply was lost and the retry ran out of time): such an
    // address is left allocated (a leak for the cleanup), never handed out a second time.
    const failed = replies.filter((r) => r.status !== 200).length;
    console.log(
      `${granted.length} addresses granted, ${stored.size} stored, ${failed} calls failed`,
    );
    expect(stored.size - granted.length).toBeGreaterThanOrEqual(0);
    expect(stored.size - granted.length).toBeLessThanOrEqual(failed);
  });
});
