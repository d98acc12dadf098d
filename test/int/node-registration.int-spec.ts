// Issue 15, item 8: two live hosts with the same NODE_ID share ownership of its addresses, and
// either one's cleanup frees the other's. Each running plugin registers under its NODE_ID on a
// lease it keeps alive (libs/store/src/node-registration.ts); another registration still kept
// alive one TTL after it appeared is a second live plugin: an error naming both hosts, and the
// node-id check of /readyz fails while it lasts. A restarted plugin is not its own duplicate: its
// predecessor's lease simply expires.
//
// Leases of 2 s (etcd's minimum with its default timing) instead of the plugin's 10 s.
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { eventually } from '../e2e/plugin-process.js';
import { startEtcd } from '../support/etcd.js';
import { uniquePrefix } from '../support/prefix.js';
import { RawEtcd, startRegistration, type RegisteredPlugin } from './harness.js';

const endpoints = inject('etcdEndpoints');
const TTL = 2;
/** One TTL, etcd's slack for expiring a lease (LEASE_EXPIRY_SLACK_MS) and a round of renewal. */
const JUDGED_WITHIN_MS = TTL * 1000 + 2_000 + 1_500;

describe('the registration of a running plugin under its NODE_ID', () => {
  let prefix: string;
  let raw: RawEtcd;
  const running: RegisteredPlugin[] = [];
  /** What every registration logged at error level (Nest has one logger per process). */
  const errors: string[] = [];
  const logger = {
    log: () => undefined,
    warn: () => undefined,
    error: (message: unknown) => errors.push(String(message)),
  };

  beforeEach(() => {
    prefix = uniquePrefix('node-registration');
    raw = new RawEtcd(endpoints, prefix);
    errors.length = 0;
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.close()));
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const start = async (nodeId: string, host: string): Promise<RegisteredPlugin> => {
    const plugin = await startRegistration({
      nodeId,
      endpoints,
      prefix,
      host,
      ttlSeconds: TTL,
      logger,
    });
    running.push(plugin);
    return plugin;
  };
  const registrations = (nodeId: string) => raw.keys(`nodes/${nodeId}/`);

  it('should register on a lease, with host, pid, start, version and TTL', async () => {
    const a = await start('node-1', 'host-a');
    const key = `nodes/node-1/${a.registration.instance}`;
    await eventually('the registration', async () => (await registrations('node-1')).length === 1);
    const stored = await raw.client.kv.range({ key: Buffer.from(`${prefix}/${key}`) });
    const kv = stored.kvs[0];
    expect(kv?.lease).not.toBe('0');
    expect(JSON.parse(kv?.value.toString() ?? '')).toEqual({
      host: 'host-a',
      pid: process.pid,
      started: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      version: '0.0.0-test',
      ttl: TTL,
    });
    expect(a.registration.status()).toEqual({ ok: true, detail: 'ok' });
    // A stop revokes the lease: the registration goes at once, not after its TTL.
    running.splice(0);
    await a.close();
    expect(await registrations('node-1')).toEqual([]);
  });

  it('should report a second live plugin of its NODE_ID after one TTL, naming both hosts', async () => {
    const a = await start('node-1', 'host-a');
    const b = await start('node-1', 'host-b');
    const other = await start('node-2', 'host-c');
    await eventually(
      'both registrations',
      async () => (await registrations('node-1')).length === 2,
    );
    // Not at first sight: that may be a stopped plugin's registration whose lease has not expired.
    expect(a.registration.status().ok).toBe(true);
    expect(b.registration.status().ok).toBe(true);
    await eventually(
      'both to see the other',
      () => !a.registration.status().ok && !b.registration.status().ok,
      JUDGED_WITHIN_MS + 2_000,
    );
    const { started } = (await raw.dump())[`nodes/node-1/${b.registration.instance}`] as {
      started: string;
    };
    expect(a.registration.status().detail).toBe(
      `NODE_ID node-1 is also held by a live kontena-ipam on host host-b (pid ${process.pid}, ` +
        `version 0.0.0-test, started ${started}, instance ${b.registration.instance})`,
    );
    expect(b.registration.status().detail).toMatch(/^NODE_ID node-1 is also held by .* host-a /);
    // One error line from each, naming both hosts; another NODE_ID is nobody's duplicate.
    expect(errors.sort()).toEqual([
      expect.stringMatching(
        /^NODE_ID node-1 is held by a live kontena-ipam on host host-a .*, as well as by this plugin on host host-b .*give every host its own NODE_ID$/,
      ),
      expect.stringMatching(
        /^NODE_ID node-1 is held by a live kontena-ipam on host host-b .*, as well as by this plugin on host host-a .*give every host its own NODE_ID$/,
      ),
    ]);
    expect(other.registration.status().ok).toBe(true);

    // b stops: a holds its NODE_ID alone again.
    running.splice(running.indexOf(b), 1);
    await b.close();
    await eventually('a to be alone again', () => a.registration.status().ok, 5_000);
  });

  it('should not count a stopped predecessor whose lease expires (a restart)', async () => {
    // What a plugin killed a moment ago leaves: its registration, on a lease nobody renews.
    const lease = raw.client.lease(TTL, { autoKeepAlive: false });
    const predecessor = `${prefix}/nodes/node-1/0d5e2c1a-dead-4000-8000-000000000000`;
    await lease.put(predecessor).value(
      JSON.stringify({
        host: hostname(),
        pid: 1,
        started: '2026-12-06T21:00:00.000Z',
        version: '0.0.0-test',
        ttl: TTL,
      }),
    );
    lease.release();
    const restarted = await start('node-1', hostname());
    await eventually(
      'both registrations',
      async () => (await registrations('node-1')).length === 2,
    );
    // Long enough to have judged the predecessor live, had its lease been renewed.
    const until = Date.now() + JUDGED_WITHIN_MS + 1_000;
    while (Date.now() < until) {
      expect(restarted.registration.status()).toEqual({ ok: true, detail: 'ok' });
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await registrations('node-1')).toEqual([
      `nodes/node-1/${restarted.registration.instance}`,
    ]);
    expect(errors).toEqual([]);
  });

  it('should register again after its lease was lost', async () => {
    const a = await start('node-1', 'host-a');
    const key = `${prefix}/nodes/node-1/${a.registration.instance}`;
    await eventually('the registration', async () => (await registrations('node-1')).length === 1);
    const leaseOf = async (): Promise<string | undefined> =>
      (await raw.client.kv.range({ key: Buffer.from(key) })).kvs[0]?.lease;
    const first = (await leaseOf()) ?? '0';
    // etcd drops the lease (as after an outage longer than its TTL): the registration goes with it.
    await raw.client.leaseClient.leaseRevoke({ ID: first });
    await eventually(
      'a registration on a new lease',
      async () => ![undefined, first].includes(await leaseOf()),
      5_000,
    );
    expect(await leaseOf()).not.toBe(first);
    expect(a.registration.status().ok).toBe(true);
  });

  it('should start without etcd, and register once etcd comes up', async () => {
    const cluster = await startEtcd({ name: 'registration-late' });
    try {
      await cluster.killMember(0);
      const started = Date.now();
      const a = await startRegistration({
        nodeId: 'node-1',
        endpoints: cluster.endpoints,
        prefix,
        host: 'host-a',
        ttlSeconds: TTL,
      });
      running.push(a);
      expect(Date.now() - started).toBeLessThan(2_000);
      await new Promise((r) => setTimeout(r, 1_500));
      await cluster.restartMember(0);
      const late = new RawEtcd(cluster.endpoints, prefix);
      try {
        await eventually(
          'the registration',
          async () =>
            (await late.keys('nodes/node-1/')).includes(`nodes/node-1/${a.registration.instance}`),
          15_000,
        );
      } finally {
        late.close();
      }
      running.splice(running.indexOf(a), 1);
      await a.close();
    } finally {
      await cluster.stop();
    }
  });
});
