import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { newNonce, RequestRefused } from '#app/store';
import type { DockerAddressRequest } from '../support/docker-calls.js';
import { uniquePrefix } from '../support/prefix.js';
import { RawEtcd, startNode, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');
const NAME = 'com.docker.network.endpoint.name';

interface StoredAddressValue {
  node: string;
  type: string;
  name?: string;
}

/**
 * Dynamic RequestAddress calls of one pool that arrive together share one etcd transaction. What
 * one of them carries must fail that one alone (issue #15, item 2: three 600 KB endpoint names
 * made the batch "too large" for etcd, and 16 ordinary calls failed with it).
 */
describe('hostile claims in a batch of allocations', () => {
  let prefix: string;
  let node: IpamNode;
  let raw: RawEtcd;

  beforeEach(async () => {
    prefix = uniquePrefix('hostile-claims');
    raw = new RawEtcd(endpoints, prefix);
    node = await startNode({ nodeId: 'node-a', endpoints, prefix });
    await node.pools.requestPool({ options: { network: 'p' }, pool: '10.70.0.0/24', v6: false });
  });

  afterEach(async () => {
    await node.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  async function stored(): Promise<Record<string, StoredAddressValue>> {
    const dump = await raw.dump();
    const out: Record<string, StoredAddressValue> = {};
    for (const [key, value] of Object.entries(dump)) {
      if (key.startsWith('addresses/p/')) {
        out[key.slice('addresses/p/'.length)] = value as StoredAddressValue;
      }
    }
    return out;
  }

  it('should serve ordinary calls beside oversized and control-character endpoint names, storing neither', async () => {
    const hostile = [
      'x'.repeat(600_000),
      'y'.repeat(600_000),
      'z'.repeat(600_000),
      'web\n2026-12-06T00:00:00.000Z INFO  [AddressAllocator] forged',
    ];
    const calls: DockerAddressRequest[] = Array.from({ length: 20 }, (_, i) => ({
      poolId: 'p',
      options: { [NAME]: i % 5 === 4 ? hostile[(i - 4) / 5]! : `web-${i}` },
    }));
    const replies = await Promise.allSettled(calls.map((c) => node.addresses.requestAddress(c)));
    expect(replies.filter((r) => r.status === 'rejected')).toEqual([]);
    const granted = replies.map((r) => (r.status === 'fulfilled' ? r.value.address : ''));
    expect(new Set(granted).size).toBe(20);

    const values = await stored();
    expect(Object.keys(values)).toHaveLength(21); // + the gateway
    granted.forEach((address, i) => {
      const value = values[address.split('/')[0]!]!;
      expect(value).toMatchObject({ node: 'node-a', type: 'endpoint' });
      expect(value.name).toBe(i % 5 === 4 ? undefined : `web-${i}`);
    });
  });

  it.each([
    // etcd refuses a request over --max-request-bytes (1.5 MiB): "request is too large"
    {
      name: 'over etcd request limit',
      size: 1_700_000,
      says: /refused the request as invalid: .*request is too large$/,
    },
    // gRPC refuses a message over etcd's limit + 512 KiB before etcd sees it
    {
      name: 'over the gRPC message limit',
      size: 3_000_000,
      says: /exceeded gRPC's size limit, and would on every retry: .*larger than max/,
    },
  ])(
    'should fail only the claim that etcd refuses ($name), and grant the others of its batch',
    async ({ size, says }) => {
      // Past the allocator's own bound on names: a record that no request can produce, to
      // prove the batch itself (any claim that etcd refuses, whatever makes it so).
      const state = await node.states.get('p', Date.now() + 10_000);
      const claim = (name: string) =>
        state.batch.allocate(
          { address: '', node: 'node-a', type: 'endpoint', name },
          newNonce(),
          Date.now() + 10_000,
        );
      const results = await Promise.allSettled([
        ...Array.from({ length: 10 }, (_, i) => claim(`web-${i}`)),
        claim('x'.repeat(size)),
        ...Array.from({ length: 10 }, (_, i) => claim(`web-${10 + i}`)),
      ]);
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused).toHaveLength(1);
      expect(results[10]!.status).toBe('rejected');
      const reason = (results[10] as PromiseRejectedResult).reason as Error;
      expect(reason).toBeInstanceOf(RequestRefused);
      expect(reason.message).toMatch(says);
      expect(Object.keys(await stored())).toHaveLength(21); // 20 + the gateway
    },
  );
});
