// A subnet view that missed changes must not look current. etcd3 1.1 resumes a dropped watch
// from the revision in the header of the watch's "created" reply; changes etcd sends after that
// reply are lost when the stream drops in between, yet later changes still arrive and move the
// view's revision past them. A pool created from such a view passed its subnet fence and could
// take (and overwrite) a subnet another node had reserved.
//
// Node "node-a" reaches etcd through a proxy that cuts the watch stream right after etcd created
// each watch of `subnets/`, while node "node-b" (direct to etcd) creates pools; then the cuts
// stop, node-b creates one more pool that node-a's watch does deliver, and node-a creates pools
// from its view. The consistency check (apps/cleanup/src/check.ts) must find nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';

import { SubnetConflict } from '#app/ipam';

import { checkStore } from '../../apps/cleanup/src/check.js';
import type { DockerPoolRequest as PoolRequest } from '../support/docker-calls.js';
import { uniquePrefix } from '../support/prefix.js';
import { startWatchCutProxy, type WatchCutProxy } from '../support/watch-cut-proxy.js';
import { RawEtcd, startNode, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');
const local: PoolRequest = { options: {}, v6: false };

// The proxy reads HTTP/2 frames: it needs a plain-HTTP etcd (an https ETCD_ENDPOINT skips this).
describe.skipIf(!endpoints[0]?.startsWith('http://'))(
  'the subnet view across watch streams cut after each re-watch',
  () => {
    let prefix: string;
    let proxy: WatchCutProxy;
    let raw: RawEtcd;
    let a: IpamNode;
    let b: IpamNode;

    beforeEach(async () => {
      prefix = uniquePrefix('subnet-watch-cut');
      proxy = await startWatchCutProxy(endpoints[0] ?? '', `${prefix}/subnets/`);
      raw = new RawEtcd(endpoints, prefix);
      a = await startNode({ nodeId: 'node-a', endpoints: [proxy.url], prefix });
      b = await startNode({ nodeId: 'node-b', endpoints, prefix });
    });

    afterEach(async () => {
      await Promise.all([a.close(), b.close()]);
      await proxy.close();
      await raw.client.delete().prefix(`${prefix}/`);
      raw.close();
    });

    /**
     * node-a's subnet view is listed and watched; then every watch of subnets/ is cut right
     * after etcd created it while node-b runs `meanwhile` (etcd3 re-watches every few hundred
     * milliseconds); then the cuts stop, a watch runs again, and node-b's next pool reaches
     * node-a through it, so a view that missed the changes in between looks current.
     */
    async function cutWhile<T>(meanwhile: () => Promise<T>): Promise<T> {
      await a.pools.requestPool(local);
      await vi.waitFor(() => expect(proxy.watchesRunning).toBe(1));
      proxy.cutWatches(true);
      proxy.cutAll();
      const result = await meanwhile();
      await sleep(1_000);
      proxy.cutWatches(false);
      // etcd3 re-watches with a back-off that a busy machine stretches: wait for the watch to run
      // again (bounded) rather than for a fixed time.
      await vi.waitFor(() => expect(proxy.watchesRunning).toBeGreaterThan(0), {
        timeout: 15_000,
        interval: 100,
      });
      await b.pools.requestPool(local);
      await sleep(500);
      return result;
    }

    /** No overlap, no subnet key overwritten (a pool whose subnet key names another pool). */
    async function expectConsistent(): Promise<void> {
      const snapshot = await b.cleanup.snapshot(b.cleanup.deadline());
      expect(checkStore(snapshot.entries).violations.map((v) => v.message)).toEqual([]);
      // node-a watched subnets/ again after the first cut: etcd3 re-watching on its own (each
      // re-watch cut), or node-a listing afresh and watching anew. The running count is of this
      // instant (a re-list closes the watch a moment before it opens the next): wait, bounded.
      await vi.waitFor(() => expect(proxy.watchesCut + proxy.watchesRunning).toBeGreaterThan(1), {
        timeout: 5_000,
        interval: 100,
      });
    }

    it('should give no pool a subnet another node reserved while the watch was cut', async () => {
      const missed = await cutWhile(async () => {
        const pools: string[] = [];
        for (let i = 0; i < 6; i++) {
          pools.push((await b.pools.requestPool(local)).pool);
          await sleep(100);
        }
        return pools;
      });
      const created: string[] = [];
      for (let i = 0; i < missed.length + 2; i++) {
        created.push((await a.pools.requestPool(local)).pool);
      }
      await expectConsistent();
      expect(created.filter((subnet) => missed.includes(subnet))).toEqual([]);
    });

    it('should refuse a subnet inside one reserved while the watch was cut', async () => {
      // Another network address than the one node-a asks for: only a complete view sees it.
      await cutWhile(() => b.pools.requestPool({ ...local, pool: '10.90.4.0/23' }));
      await expect(a.pools.requestPool({ ...local, pool: '10.90.5.0/24' })).rejects.toThrow(
        SubnetConflict,
      );
      await expectConsistent();
    });
  },
);
