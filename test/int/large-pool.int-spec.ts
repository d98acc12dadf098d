import type { Etcd3, IRequestOp } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';

import { FakeDocker, startCleanup } from '../cleanup/harness.js';
import { uniquePrefix } from '../support/prefix.js';
import { RawEtcd, startNode, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');

/** gRPC's default limit for one message, which a reply of etcd must stay under. */
const GRPC_MESSAGE_LIMIT = 4 * 1024 * 1024;
const ADDRESSES = 30_000;
const POOL = 'big';

const ip = (i: number): string => `10.120.${Math.floor(i / 256)}.${i % 256}`;

/**
 * A pool with more addresses than one etcd reply can carry: every read of it must come in pages,
 * or it fails with RESOURCE_EXHAUSTED ("Received message larger than max") however often it is
 * retried. Written with raw etcd, as 30,000 orphans of a host that lost its Docker networks.
 */
describe('a pool larger than one gRPC message on a real etcd', () => {
  let prefix: string;
  let raw: RawEtcd;
  let node: IpamNode;
  let bytes = 0;

  beforeAll(async () => {
    prefix = uniquePrefix('large-pool');
    raw = new RawEtcd(endpoints, prefix);
    const entries: [string, string][] = [
      [`pools/${POOL}`, JSON.stringify({ subnet: '10.120.0.0/16', gateway: '10.120.0.1/16' })],
      ['subnets/10.120.0.0', JSON.stringify({ address: '10.120.0.0/16', pool: POOL })],
      [`pool-nodes/${POOL}/node-a`, JSON.stringify({ refs: 1 })],
      [
        `addresses/${POOL}/10.120.0.1`,
        JSON.stringify({ address: '10.120.0.1/16', node: 'node-a', type: 'gateway' }),
      ],
    ];
    for (let i = 2; i < ADDRESSES + 2; i++) {
      entries.push([
        `addresses/${POOL}/${ip(i)}`,
        JSON.stringify({
          address: `${ip(i)}/16`,
          node: 'node-a',
          type: 'endpoint',
          name: `container-${i}`,
          req: i.toString(16).padStart(16, '0'),
        }),
      ]);
    }
    // etcd takes at most 128 operations per transaction.
    for (let i = 0; i < entries.length; i += 128) {
      const puts = entries.slice(i, i + 128).map(([key, value]): IRequestOp => ({
        request_put: { key: Buffer.from(`${prefix}/${key}`), value: Buffer.from(value) },
      }));
      await raw.client.kv.txn({ compare: [], success: puts, failure: [] });
    }
    bytes = entries
      .filter(([key]) => key.startsWith('addresses/'))
      .reduce((n, [key, value]) => n + prefix.length + 1 + key.length + value.length, 0);
    node = await startNode({ nodeId: 'node-a', endpoints, prefix });
  }, 120_000);

  afterAll(async () => {
    await node?.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  it('should hold more address bytes than one gRPC message carries', () => {
    expect(bytes).toBeGreaterThan(GRPC_MESSAGE_LIMIT);
  });

  it('listAddresses should read every address of the pool, at one revision', async () => {
    const { addresses, revision } = await node.cleanup.listAddresses(POOL, node.cleanup.deadline());
    expect(addresses).toHaveLength(ADDRESSES + 1);
    expect(BigInt(revision)).toBeLessThanOrEqual(BigInt(await raw.revision()));
    expect(addresses.find((a) => a.ip === ip(ADDRESSES + 1))?.record).toMatchObject({
      node: 'node-a',
      name: `container-${ADDRESSES + 1}`,
    });
  });

  it("should let a cleanup pass read the pool and plan to free this node's orphans", async () => {
    const cleanup = await startCleanup({
      nodeId: 'node-a',
      endpoints,
      prefix,
      docker: new FakeDocker(),
    });
    try {
      const report = await cleanup.run({ dryRun: true, pool: POOL });
      expect(report.error).toBeUndefined();
      expect(report.ok).toBe(true);
      expect(report.pools).toHaveLength(1);
      expect(report.pools[0]).toMatchObject({ pool: POOL, freed: ADDRESSES });
    } finally {
      await cleanup.close();
    }
  });

  // Not only the address list: every read of a prefix asks etcd for a page at a time.
  it.each([
    { name: 'listPools', read: (n: IpamNode) => n.cleanup.listPools(n.cleanup.deadline()) },
    {
      name: 'listAddresses',
      read: (n: IpamNode) => n.cleanup.listAddresses(POOL, n.cleanup.deadline()),
    },
    {
      name: 'listMembers',
      read: (n: IpamNode) => n.cleanup.listMembers(POOL, n.cleanup.deadline()),
    },
    { name: 'listSubnets', read: (n: IpamNode) => n.store.listSubnets(n.store.deadline()) },
    {
      name: 'listAddressKeys',
      read: (n: IpamNode) => n.store.listAddressKeys(POOL, n.store.deadline()),
    },
    { name: 'snapshot', read: (n: IpamNode) => n.cleanup.snapshot(n.cleanup.deadline()) },
  ])('$name should read its prefix in pages', async ({ read }) => {
    // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- the store's own client
    const kv = (node.connection as unknown as { client: Etcd3 }).client.kv;
    const ranges = vi.spyOn(kv, 'range');
    const txns = vi.spyOn(kv, 'txn');
    try {
      await read(node);
      const prefixReads = [
        ...ranges.mock.calls.map(([req]) => req),
        ...txns.mock.calls.flatMap(([req]) =>
          (req.success ?? []).flatMap((op) => (op.request_range ? [op.request_range] : [])),
        ),
      ].filter((req) => req.range_end !== undefined && !req.count_only);
      expect(prefixReads.length).toBeGreaterThan(0);
      for (const req of prefixReads) {
        expect(Number(req.limit)).toBeGreaterThan(0);
      }
    } finally {
      ranges.mockRestore();
      txns.mockRestore();
    }
  });
});
