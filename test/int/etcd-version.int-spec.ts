// Issue 15, item 7: an etcd older than 3.3 ignores the range of a compare, so the store's
// transactions lose their guarantees there (libs/store/README.md, "Waiting for etcd"). The store
// reads etcd's version (Maintenance.Status) at first contact and after every reconnection and
// refuses every call below 3.3 with a 503 that says why; /readyz's etcd check says the same.
//
// Only etcd 3.4 is installed here: a proxy in front of the test's etcd member rewrites the version
// its Status replies carry (test/support/version-proxy.ts).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';

import { StoreUnavailable } from '#app/store';

import type { DockerPoolRequest } from '../support/docker-calls.js';
import { eventually } from '../e2e/plugin-process.js';
import { uniquePrefix } from '../support/prefix.js';
import { startVersionProxy, type VersionProxy } from '../support/version-proxy.js';
import { RawEtcd, startNode, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');
const OLD = '3.2.26';

const shared = (network: string): DockerPoolRequest => ({ options: { network }, v6: false });

// The proxy reads HTTP/2 frames: it needs a plain-HTTP etcd (an https ETCD_ENDPOINT skips this).
describe.skipIf(!endpoints[0]?.startsWith('http://'))('an etcd older than 3.3', () => {
  let proxy: VersionProxy;
  let prefix: string;
  let raw: RawEtcd;
  let node: IpamNode | undefined;

  beforeAll(async () => {
    // "3.2.26" replaces the real version in place (reportVersion throws unless it is as long).
    proxy = await startVersionProxy(endpoints[0] ?? '');
  });
  afterAll(async () => {
    await proxy.close();
  });

  beforeEach(() => {
    prefix = uniquePrefix('etcd-version');
    raw = new RawEtcd(endpoints, prefix);
  });
  afterEach(async () => {
    proxy.reportVersion(undefined);
    await node?.close();
    node = undefined;
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const refusal = (): string =>
    `etcd ${OLD} at ${proxy.url}: kontena-ipam needs etcd 3.3 or newer (range compares)`;

  it('should refuse every call with a 503 that names the version, and write nothing', async () => {
    proxy.reportVersion(OLD);
    node = await startNode({ nodeId: 'old-a', endpoints: [proxy.url], prefix });
    const pool = await node.pools.requestPool(shared('blue')).catch((e: unknown) => e);
    expect(pool).toBeInstanceOf(StoreUnavailable);
    expect((pool as Error).message).toBe(refusal());
    const revision = await node.cleanup
      .currentRevision(node.connection.deadline())
      .catch((e: unknown) => e);
    expect((revision as Error).message).toBe(refusal());
    expect(node.connection.status()).toEqual({ ready: false, detail: refusal() });
    expect(await raw.keys()).toEqual([]);
    expect(proxy.rewritten).toBeGreaterThan(0);
  });

  it('should serve once the etcd is upgraded in place', async () => {
    proxy.reportVersion(OLD);
    node = await startNode({ nodeId: 'old-b', endpoints: [proxy.url], prefix });
    await expect(node.pools.requestPool(shared('blue'))).rejects.toThrow(refusal());
    proxy.reportVersion(undefined);
    const current = node;
    await eventually('the store to be ready', () => current.connection.status().ready, 5_000);
    expect((await node.pools.requestPool(shared('blue'))).poolId).toBe('blue');
  });

  it('should read the version again when it reconnects, and refuse an older etcd then', async () => {
    node = await startNode({ nodeId: 'old-c', endpoints: [proxy.url], prefix });
    expect((await node.pools.requestPool(shared('blue'))).poolId).toBe('blue');
    expect(node.connection.status().ready).toBe(true);
    // The member is replaced by an older one behind the same address: the connection drops.
    proxy.reportVersion(OLD);
    proxy.cutAll();
    const current = node;
    await eventually(
      'the store to refuse the older etcd',
      () => current.connection.status().detail === refusal(),
      8_000,
    );
    await expect(node.pools.requestPool(shared('green'))).rejects.toThrow(refusal());
    expect(await raw.keys('pools/')).toEqual(['pools/blue']);
  });
});
