// Issue 15, item 8, for the cleanup: a pass frees what this host's Docker does not know, so it
// must not run for a NODE_ID another live plugin holds (on another host, or a second one): that
// plugin's containers would look like leaks. It refuses unless told --force. --forget-node
// refuses a node whose plugin is alive. Registrations come from the plugin's own registration
// code (libs/store/src/node-registration.ts), with leases of 2 s instead of 10 s.
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { containerOptions, type DockerPoolRequest } from '../support/docker-calls.js';
import { eventually } from '../e2e/plugin-process.js';
import { uniquePrefix } from '../support/prefix.js';
import {
  RawEtcd,
  startNode,
  startRegistration,
  type IpamNode,
  type RegisteredPlugin,
} from '../int/harness.js';
import { FakeDocker, startCleanup, type CleanupRunner } from './harness.js';

const endpoints = inject('etcdEndpoints');
const TTL = 2;

const shared = (network: string, pool: string): DockerPoolRequest => ({
  options: { network },
  v6: false,
  pool,
});

describe('the cleanup and the live plugins of a NODE_ID', () => {
  let prefix: string;
  let raw: RawEtcd;
  let a: IpamNode;
  let cleanup: CleanupRunner;
  const plugins: RegisteredPlugin[] = [];

  beforeEach(async () => {
    prefix = uniquePrefix('cleanup-liveness');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    cleanup = await startCleanup({ nodeId: 'node-a', endpoints, prefix, docker: new FakeDocker() });
    // node-a's pool with one address that this host's Docker does not list: an orphan to a pass.
    await a.pools.requestPool(shared('kontena', '10.81.0.0/24'));
    await a.addresses.requestAddress({
      poolId: 'kontena',
      address: '10.81.0.30',
      options: containerOptions(),
    });
  });
  afterEach(async () => {
    await Promise.all(plugins.splice(0).map((p) => p.close()));
    await cleanup.close();
    await a.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  /** A running plugin of `nodeId` on `host`, once its registration is in etcd. */
  const plugin = async (nodeId: string, host: string): Promise<RegisteredPlugin> => {
    const p = await startRegistration({ nodeId, endpoints, prefix, host, ttlSeconds: TTL });
    plugins.push(p);
    const key = `nodes/${nodeId}/${p.registration.instance}`;
    await eventually(key, async () => (await raw.keys('nodes/')).includes(key));
    return p;
  };
  const stop = async (p: RegisteredPlugin): Promise<void> => {
    plugins.splice(plugins.indexOf(p), 1);
    await p.close();
  };
  const addresses = () => raw.keys('addresses/kontena/');
  const orphan = 'addresses/kontena/10.81.0.30';

  it("should run at once beside this host's own plugin", async () => {
    await plugin('node-a', hostname());
    const started = Date.now();
    const report = await cleanup.run();
    expect(report).toMatchObject({ ok: true, warnings: [] });
    expect(report.totals.freed).toBe(1);
    expect(await addresses()).not.toContain(orphan);
    // Nothing to wait for: one plugin, on this host.
    expect(Date.now() - started).toBeLessThan(TTL * 1000);
  });

  it('should refuse a NODE_ID that a live plugin on another host holds, and free nothing', async () => {
    await plugin('node-a', 'host-b');
    const report = await cleanup.run();
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(
      new RegExp(
        `^NODE_ID node-a is held by a live kontena-ipam on host host-b \\(pid \\d+, .*\\); ` +
          `a pass on host ${hostname()} would free the addresses that plugin hands out as if ` +
          `they were this host's leaks: give every host its own NODE_ID, or add --force; ` +
          'nothing was deleted$',
      ),
    );
    expect(report.pools).toEqual([]);
    expect(await addresses()).toContain(orphan);
  });

  it('should refuse two live plugins of this NODE_ID on this host', async () => {
    await plugin('node-a', hostname());
    await plugin('node-a', hostname());
    const report = await cleanup.run();
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/^NODE_ID node-a is held by .* and .*; nothing was deleted$/);
    expect(await addresses()).toContain(orphan);
  });

  it('should run the pass with --force, with a warning', async () => {
    await plugin('node-a', 'host-b');
    const report = await cleanup.run({ force: true });
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([
      expect.stringMatching(
        /^NODE_ID node-a is held by a live kontena-ipam on host host-b .*: --force given, the pass ran anyway$/,
      ),
    ]);
    expect(await addresses()).not.toContain(orphan);
  });

  it('should run once the registration of a plugin that stopped has expired', async () => {
    // A plugin on another host killed a moment ago: its registration, on a lease nobody renews.
    const lease = raw.client.lease(TTL, { autoKeepAlive: false });
    await lease.put(`${prefix}/nodes/node-a/0d5e2c1a-dead-4000-8000-000000000000`).value(
      JSON.stringify({
        host: 'host-b',
        pid: 1,
        started: '2026-12-06T21:00:00.000Z',
        version: '0.0.0-test',
        ttl: TTL,
      }),
    );
    lease.release();
    const report = await cleanup.run();
    expect(report).toMatchObject({ ok: true, warnings: [] });
    expect(await addresses()).not.toContain(orphan);
  });

  it('should not forget a node whose plugin is alive, and forget it once stopped', async () => {
    await a.addresses.requestAddress({
      poolId: 'kontena',
      address: '10.81.0.40',
      options: containerOptions(),
    });
    const gone = await startNode({ nodeId: 'node-gone', endpoints, prefix });
    try {
      await gone.pools.requestPool(shared('kontena', '10.81.0.0/24'));
      await gone.addresses.requestAddress({
        poolId: 'kontena',
        address: '10.81.0.50',
        options: containerOptions(),
      });
    } finally {
      await gone.close();
    }
    const alive = await plugin('node-gone', 'host-g');

    const refused = await cleanup.run({ forgetNode: 'node-gone', yes: true });
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(
      /^node node-gone is alive: a live kontena-ipam on host host-g \(.*\) keeps its registration; --forget-node is for a node gone for good: stop that plugin first; nothing was deleted$/,
    );
    expect(await addresses()).toContain('addresses/kontena/10.81.0.50');

    await stop(alive);
    const forgotten = await cleanup.run({ forgetNode: 'node-gone', yes: true });
    expect(forgotten.ok).toBe(true);
    expect(await addresses()).not.toContain('addresses/kontena/10.81.0.50');
    expect(await raw.keys('pool-nodes/kontena/')).toEqual(['pool-nodes/kontena/node-a']);
  });
});
