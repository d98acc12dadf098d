import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { pluginCall, startPlugin, type PluginProcess } from './plugin-process.js';

/** The plugin's resident set size, in MiB (/proc/PID/status). */
function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) {
    throw new Error(`no VmRSS in /proc/${pid}/status`);
  }
  return Number(match[1]) / 1024;
}

/** How many watchers etcd serves (its /metrics), all clients together. */
async function etcdWatchers(endpoint: string): Promise<number> {
  const res = await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const match = /^etcd_debugging_mvcc_watcher_total (\d+)$/m.exec(await res.text());
  if (!match) {
    throw new Error(`no etcd_debugging_mvcc_watcher_total in ${endpoint}/metrics`);
  }
  return Number(match[1]);
}

/**
 * What a CI runner does all day: a network is created, a container gets an address, the network
 * is removed. A pool of 11.0.0.0/8 costs the plugin a 2 MiB free set and an etcd watch while it
 * allocates from it; both must go with the pool (issue #15, item 1: 480 such cycles grew the
 * plugin from 182 MB to 1,141 MB, one etcd watcher more per cycle).
 */
describe('networks created and removed over and over', () => {
  let etcd: EtcdCluster;
  let plugin: PluginProcess;

  beforeAll(async () => {
    // An etcd of its own: its watcher count is this plugin's alone.
    etcd = await startEtcd({ name: 'churn' });
    plugin = await startPlugin({
      env: { NODE_ID: 'churn', ETCD_ENDPOINT: etcd.endpoints.join(','), LOG_LEVEL: 'warn' },
    });
  });

  afterAll(async () => {
    await plugin?.stop();
    await etcd?.stop();
  });

  async function cycle(): Promise<void> {
    const pool = await pluginCall(plugin.socketPath, 'IpamDriver.RequestPool', {
      AddressSpace: 'kontenalocal',
      Pool: '11.0.0.0/8',
      SubPool: '',
      Options: {},
      V6: false,
    });
    expect({ status: pool.status, text: pool.text }).toMatchObject({ status: 200 });
    const poolId = String(pool.body?.PoolID);
    const address = await pluginCall(plugin.socketPath, 'IpamDriver.RequestAddress', {
      PoolID: poolId,
      Address: '',
      Options: {},
    });
    expect({ status: address.status, text: address.text }).toMatchObject({ status: 200 });
    const release = await pluginCall(plugin.socketPath, 'IpamDriver.ReleasePool', {
      PoolID: poolId,
    });
    expect({ status: release.status, text: release.text }).toMatchObject({ status: 200 });
  }

  it('should keep the plugin memory and the etcd watchers flat', async () => {
    for (let i = 0; i < 150; i++) {
      await cycle(); // warm up: code paths compiled, heaps grown to their working size
    }
    const endpoint = etcd.endpoints[0]!;
    const before = { rss: rssMiB(plugin.child.pid!), watchers: await etcdWatchers(endpoint) };
    const cycles = 400;
    for (let i = 0; i < cycles; i++) {
      await cycle();
    }
    const after = { rss: rssMiB(plugin.child.pid!), watchers: await etcdWatchers(endpoint) };
    console.log(
      `${cycles} pool cycles: RSS ${before.rss.toFixed(0)} -> ${after.rss.toFixed(0)} MiB, ` +
        `etcd watchers ${before.watchers} -> ${after.watchers}`,
    );
    expect(after.watchers - before.watchers).toBeLessThanOrEqual(1);
    // 400 leaked free sets of a /8 alone are 800 MiB.
    expect(after.rss - before.rss).toBeLessThan(100);
  });
});
