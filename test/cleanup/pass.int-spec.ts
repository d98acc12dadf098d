import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import {
  GATEWAY_ADDRESS_TYPE as GATEWAY_TYPE,
  REQUEST_ADDRESS_TYPE_OPTION as GATEWAY_OPTION,
} from '#app/ipam';
import {
  containerOptions,
  type DockerPoolRequest as PoolRequest,
} from '../support/docker-calls.js';
import { MAX_DELETE_BATCH } from '#app/store';

import type { PoolReport } from '../../apps/cleanup/src/report.js';
import { RawEtcd, startNode, type IpamNode } from '../int/harness.js';
import { freePorts } from '../support/etcd.js';
import { uniquePrefix } from '../support/prefix.js';
import { dockerNetwork, FakeDocker, startCleanup, type CleanupRunner } from './harness.js';

const endpoints = inject('etcdEndpoints');

function shared(network: string, pool?: string): PoolRequest {
  return { options: { network }, v6: false, ...(pool ? { pool } : {}) };
}

/** An address as the plugin allocates it for a container (or for a gateway). */
function take(node: IpamNode, poolId: string, address?: string, gateway = false) {
  return node.addresses.requestAddress({
    poolId,
    ...(address ? { address } : {}),
    options: gateway ? { [GATEWAY_OPTION]: GATEWAY_TYPE } : containerOptions(),
  });
}

/** `10.83.0.7/23` → `10.83.0.7` */
function ipOnly(cidr: string): string {
  return cidr.split('/')[0]!;
}

function poolOf(pools: PoolReport[], id: string): PoolReport {
  const found = pools.find((p) => p.pool === id);
  if (!found) {
    throw new Error(`no report line for pool ${id}`);
  }
  return found;
}

/**
 * The pass and --forget-node on a real etcd, with pools and addresses made by the plugin's own
 * allocators and Docker's view given by the test (test/cleanup/*.e2e-spec.ts uses a real one).
 */
describe('the cleanup pass on a real etcd', () => {
  let prefix: string;
  let raw: RawEtcd;
  let a: IpamNode;
  let b: IpamNode;
  let docker: FakeDocker;
  let cleanup: CleanupRunner;

  beforeEach(async () => {
    prefix = uniquePrefix('cleanup-pass');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    b = await startNode({ nodeId: 'node-b', endpoints, prefix });
    docker = new FakeDocker();
    cleanup = await startCleanup({ nodeId: 'node-a', endpoints, prefix, docker });
  });

  afterEach(async () => {
    await cleanup.close();
    await a.close();
    await b.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const addressKeys = async (poolId: string) =>
    (await raw.keys(`addresses/${poolId}/`)).map((k) => k.slice(`addresses/${poolId}/`.length));

  // Issue #19: a managed plugin's networks carry the driver kontena-ipam:latest; without
  // --driver the pass must still see them as this plugin's, not free what they use.
  it.each([
    { name: 'the managed plugin Docker lists', plugin: 'reg.example/kontena-ipam:0.3.0' },
    { name: "a network's driver of our name and a tag", plugin: undefined },
  ])('should find the driver name of $name itself', async ({ plugin }) => {
    const driver = plugin ?? 'kontena-ipam:latest';
    await a.pools.requestPool(shared('managed', '10.81.4.0/24'));
    await take(a, 'managed', '10.81.4.10'); // a container
    await take(a, 'managed', '10.81.4.11'); // an orphan
    docker.installed = plugin
      ? [
          {
            name: plugin,
            enabled: true,
            types: ['docker.ipamdriver/1.0'],
            socket: 'kontena-ipam.sock',
          },
        ]
      : [];
    docker.networks = [
      dockerNetwork('managed', {
        ipamDriver: driver,
        poolOption: 'managed',
        configs: [{ subnet: '10.81.4.0/24', auxAddresses: [] }],
        endpoints: [{ name: 'c1', ipv4: '10.81.4.10' }],
      }),
    ];

    const report = await cleanup.run();

    expect(report).toMatchObject({ ok: true, driver: `kontena-ipam, ${driver}` });
    expect(poolOf(report.pools, 'managed')).toMatchObject({ kept: 2, freed: 1 });
    expect(await addressKeys('managed')).toEqual(['10.81.4.1', '10.81.4.10']);
  });

  it("should free this node's orphans and keep containers, gateways, aux addresses and other nodes' addresses", async () => {
    await a.pools.requestPool(shared('kontena', '10.81.0.0/24'));
    await b.pools.requestPool(shared('kontena'));
    await take(a, 'kontena', '10.81.0.10'); // a container
    await take(a, 'kontena', '10.81.0.20'); // an aux address (of old: a container's record)
    // An aux address of a network removed on this host and kept on another: the network's.
    await a.addresses.requestAddress({ poolId: 'kontena', address: '10.81.0.21', options: {} });
    // A record of a kind a newer version wrote: never freed by this one.
    await raw.client
      .put(`${prefix}/addresses/kontena/10.81.0.22`)
      .value(JSON.stringify({ address: '10.81.0.22/24', node: 'node-a', type: 'vip' }));
    await take(a, 'kontena', '10.81.0.254', true); // a --gateway
    await take(a, 'kontena', '10.81.0.30'); // orphans
    await take(a, 'kontena', '10.81.0.31');
    await take(b, 'kontena', '10.81.0.40'); // another node's, unknown to this Docker
    docker.networks = [
      dockerNetwork('kontena', {
        poolOption: 'kontena',
        configs: [{ subnet: '10.81.0.0/24', gateway: '10.81.0.254', auxAddresses: ['10.81.0.20'] }],
        endpoints: [{ name: 'c1', ipv4: '10.81.0.10' }],
      }),
    ];

    const report = await cleanup.run();

    expect(report).toMatchObject({
      ok: true,
      mode: 'pass',
      node: 'node-a',
      driver: 'kontena-ipam',
    });
    const line = poolOf(report.pools, 'kontena');
    expect(line).toMatchObject({
      kept: 5,
      freed: 2,
      skipped: 2,
      reasons: {
        container: 1,
        'aux-address': 1,
        aux: 1,
        'docker-gateway': 1,
        gateway: 1,
        orphan: 2,
        'other-node': 1,
        'unknown-kind': 1,
      },
      membership: { node: 'node-a', result: 'kept', refs: 1, reason: 'in-use' },
      outcome: { result: 'kept', reason: 'has-members' },
    });
    expect(await addressKeys('kontena')).toEqual([
      '10.81.0.1',
      '10.81.0.10',
      '10.81.0.20',
      '10.81.0.21',
      '10.81.0.22',
      '10.81.0.254',
      '10.81.0.40',
    ]);
    expect(await raw.keys('pool-nodes/')).toEqual([
      'pool-nodes/kontena/node-a',
      'pool-nodes/kontena/node-b',
    ]);
    // The orphans are free again for anyone.
    expect((await take(b, 'kontena', '10.81.0.30')).address).toBe('10.81.0.30/24');
    expect((await take(a, 'kontena', '10.81.0.31')).address).toBe('10.81.0.31/24');
  });

  it('should free orphans over several delete transactions, keeping the containers among them', async () => {
    // More orphans than one transaction deletes, with containers in between and past the last.
    await a.pools.requestPool(shared('many', '10.83.0.0/23'));
    const taken: string[] = [];
    for (let i = 0; i < 2 * MAX_DELETE_BATCH + 15; i++) {
      taken.push(ipOnly((await take(a, 'many')).address));
    }
    const containers = taken.filter((_, i) => i % 20 === 7);
    const orphans = taken.length - containers.length;
    expect(orphans).toBeGreaterThan(2 * MAX_DELETE_BATCH);
    docker.networks = [
      dockerNetwork('many', {
        poolOption: 'many',
        configs: [{ subnet: '10.83.0.0/23', auxAddresses: [] }],
        endpoints: containers.map((ipv4, i) => ({ name: `c${i}`, ipv4 })),
      }),
    ];

    const report = await cleanup.run();

    expect(report.ok).toBe(true);
    expect(poolOf(report.pools, 'many')).toMatchObject({
      freed: orphans,
      reasons: { container: containers.length, orphan: orphans, gateway: 1 },
    });
    expect(report.totals.freed).toBe(orphans);
    expect((await addressKeys('many')).sort()).toEqual(['10.83.0.1', ...containers].sort());
  });

  it('should never free an address allocated or re-written after its revision', async () => {
    await a.pools.requestPool(shared('busy', '10.82.0.0/24'));
    await take(a, 'busy', '10.82.0.60');
    docker.networks = [
      dockerNetwork('busy', {
        poolOption: 'busy',
        configs: [{ subnet: '10.82.0.0/24', auxAddresses: [] }],
      }),
    ];
    // Between R and the deletes: a new allocation, and one released and allocated again.
    docker.onList = async () => {
      await take(a, 'busy', '10.82.0.50');
      await a.addresses.releaseAddress({ poolId: 'busy', address: '10.82.0.60' });
      await take(a, 'busy', '10.82.0.60');
    };

    const report = await cleanup.run();

    expect(report.ok).toBe(true);
    expect(poolOf(report.pools, 'busy')).toMatchObject({
      freed: 0,
      reasons: { new: 2, gateway: 1 },
    });
    expect(await addressKeys('busy')).toEqual(['10.82.0.1', '10.82.0.50', '10.82.0.60']);
  });

  it("should reconcile this node's memberships with the local networks and leave other nodes' alone", async () => {
    // One local network, three references (two leaked): set to 1.
    for (let i = 0; i < 3; i++) {
      await a.pools.requestPool(shared('leaky', '10.83.0.0/24'));
    }
    // Two local networks, one reference: raised to 2.
    await a.pools.requestPool(shared('twice', '10.83.1.0/24'));
    // No local network, another node still a member: only this node's membership goes.
    await a.pools.requestPool(shared('elsewhere', '10.83.2.0/24'));
    await a.pools.requestPool(shared('elsewhere'));
    await b.pools.requestPool(shared('elsewhere'));
    // No local network, no other member: membership and then the pool go.
    await a.pools.requestPool(shared('gone', '10.83.3.0/24'));
    await take(a, 'gone', '10.83.3.9');
    // No local network, but this node joins while the pass runs: left alone.
    await a.pools.requestPool(shared('late', '10.83.4.0/24'));
    docker.networks = [
      dockerNetwork('leaky', {
        poolOption: 'leaky',
        configs: [{ subnet: '10.83.0.0/24', auxAddresses: [] }],
      }),
      dockerNetwork('twice-1', {
        poolOption: 'twice',
        configs: [{ subnet: '10.83.1.0/24', auxAddresses: [] }],
      }),
      dockerNetwork('twice-2', {
        poolOption: 'twice',
        configs: [{ subnet: '10.83.1.0/24', auxAddresses: [] }],
      }),
    ];
    docker.onList = async () => {
      await a.pools.requestPool(shared('late'));
    };

    const report = await cleanup.run();

    expect(report.ok).toBe(true);
    expect(poolOf(report.pools, 'leaky').membership).toEqual({
      node: 'node-a',
      result: 'refs-set',
      from: 3,
      to: 1,
    });
    expect(poolOf(report.pools, 'twice').membership).toEqual({
      node: 'node-a',
      result: 'refs-set',
      from: 1,
      to: 2,
    });
    expect(poolOf(report.pools, 'elsewhere')).toMatchObject({
      membership: { result: 'deleted', reason: 'no-local-network' },
      outcome: { result: 'kept', reason: 'has-members' },
    });
    expect(poolOf(report.pools, 'gone')).toMatchObject({
      membership: { result: 'deleted' },
      outcome: { result: 'deleted' },
      reasons: { orphan: 1, gateway: 1 },
    });
    expect(poolOf(report.pools, 'late').membership).toEqual({
      node: 'node-a',
      result: 'skipped',
      reason: 'new',
    });
    expect(report.totals).toMatchObject({ refsSet: 2, membershipsDeleted: 2, poolsDeleted: 1 });

    const dump = await raw.dump();
    expect(dump['pool-nodes/leaky/node-a']).toMatchObject({ refs: 1 });
    expect(dump['pool-nodes/twice/node-a']).toMatchObject({ refs: 2 });
    expect(dump['pool-nodes/late/node-a']).toMatchObject({ refs: 2 });
    expect(await raw.keys('pool-nodes/elsewhere/')).toEqual(['pool-nodes/elsewhere/node-b']);
    expect(await raw.keys('pools/')).toEqual([
      'pools/elsewhere',
      'pools/late',
      'pools/leaky',
      'pools/twice',
    ]);
    expect(Object.keys(dump).filter((k) => k.includes('gone') || k.includes('10.83.3.'))).toEqual(
      [],
    );
    // The corrected count is what the plugin's next release works from: one release, no pool.
    await a.pools.releasePool('leaky');
    expect(await raw.keys('pools/')).not.toContain('pools/leaky');
  });

  it('should delete pools no node is a member of, never one a local network uses, and free their subnets', async () => {
    const interrupted = await b.pools.requestPool({ options: {}, v6: false });
    const used = await a.pools.requestPool({ options: {}, v6: false });
    expect([interrupted.pool, used.pool]).toEqual(['10.80.0.0/24', '10.80.1.0/24']);
    await take(b, interrupted.poolId);
    // Both lost their last membership without the pool going with it (an interrupted delete).
    await raw.client.delete().prefix(`${prefix}/pool-nodes/`);
    // A network without the option: Docker shows only its subnet, not the local-… pool id.
    docker.networks = [
      dockerNetwork('private', {
        configs: [{ subnet: used.pool, gateway: '10.80.1.1', auxAddresses: [] }],
      }),
    ];

    const report = await cleanup.run();

    expect(report.ok).toBe(true);
    expect(poolOf(report.pools, interrupted.poolId).outcome).toEqual({ result: 'deleted' });
    expect(poolOf(report.pools, used.poolId)).toMatchObject({
      networks: ['private'],
      membership: { result: 'missing' },
      outcome: { result: 'kept', reason: 'used-locally' },
    });
    expect(report.warnings).toEqual([
      expect.stringContaining(`pool ${used.poolId} is used by Docker network private`),
    ]);
    expect(await raw.keys('pools/')).toEqual([`pools/${used.poolId}`]);
    expect(await raw.keys('subnets/')).toEqual(['subnets/10.80.1.0']);
    // The next dynamic pool gets the freed subnet.
    expect((await b.pools.requestPool({ options: {}, v6: false })).pool).toBe('10.80.0.0/24');
  });

  it('should change nothing with --dry-run, yet report what it would do', async () => {
    await a.pools.requestPool(shared('dry', '10.84.0.0/24'));
    await take(a, 'dry', '10.84.0.5');
    await b.pools.requestPool(shared('memberless', '10.84.1.0/24'));
    await raw.client.delete().key(`${prefix}/pool-nodes/memberless/node-b`);
    const before = await raw.dump();
    const revision = await raw.revision();

    const report = await cleanup.run({ dryRun: true });

    expect(report).toMatchObject({ ok: true, dryRun: true });
    expect(poolOf(report.pools, 'dry')).toMatchObject({
      freed: 1,
      membership: { result: 'deleted' },
      outcome: { result: 'deleted' },
    });
    expect(poolOf(report.pools, 'memberless').outcome).toEqual({ result: 'deleted' });
    expect(report.totals).toMatchObject({ freed: 1, membershipsDeleted: 1, poolsDeleted: 2 });
    expect(await raw.revision()).toBe(revision);
    expect(await raw.dump()).toEqual(before);
  });

  it('should record a whole pass as the last of its node, and neither a dry run nor --pool', async () => {
    await a.pools.requestPool(shared('rec', '10.86.0.0/24'));
    await take(a, 'rec', '10.86.0.5');
    await cleanup.run({ dryRun: true });
    await cleanup.run({ pool: 'rec' });
    expect(await raw.keys('cleanup-passes/')).toEqual([]);

    const before = Date.now();
    const report = await cleanup.run({});

    expect(report.ok).toBe(true);
    const stored = (await raw.dump())['cleanup-passes/node-a'];
    expect(stored).toEqual({
      ...report.totals,
      revision: report.revision,
      time: expect.any(String),
    });
    const time = Date.parse((stored as { time: string }).time);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });

  it('should only look at --pool', async () => {
    await a.pools.requestPool(shared('one', '10.85.0.0/24'));
    await a.pools.requestPool(shared('other', '10.85.1.0/24'));
    await take(a, 'one', '10.85.0.5');
    await take(a, 'other', '10.85.1.5');

    const report = await cleanup.run({ pool: 'other' });

    expect(report.pools.map((p) => p.pool)).toEqual(['other']);
    expect(await raw.keys('pools/')).toEqual(['pools/one']);
    expect(await addressKeys('one')).toEqual(['10.85.0.1', '10.85.0.5']);
    const missing = await cleanup.run({ pool: 'nope' });
    expect(missing).toMatchObject({
      ok: true,
      pools: [],
      warnings: ['pool nope does not exist in etcd: nothing to do'],
    });
  });

  it('should delete nothing when Docker is unreachable, before or after the quiesce', async () => {
    await a.pools.requestPool(shared('safe', '10.86.0.0/24'));
    await take(a, 'safe', '10.86.0.5');
    const before = await raw.dump();

    docker.down = true;
    const atPing = await cleanup.run({ quiesceSeconds: 30 });
    expect(atPing).toMatchObject({ ok: false, pools: [] });
    expect(atPing.error).toBe(
      'Docker is unreachable at unix:///fake/docker.sock: down; nothing was deleted',
    );
    expect(docker.lists).toBe(0); // it failed before waiting

    docker.down = false;
    docker.onList = () => {
      docker.down = true;
      return Promise.resolve();
    };
    const atList = await cleanup.run();
    expect(atList).toMatchObject({ ok: false, pools: [] });
    expect(atList.error).toContain('nothing was deleted');
    expect(await raw.dump()).toEqual(before);
  });

  it('should delete nothing and say why when etcd is unreachable', async () => {
    const [port] = await freePorts(1);
    const offline = await startCleanup({
      nodeId: 'node-a',
      endpoints: [`http://127.0.0.1:${port}`],
      prefix,
      docker,
      env: { ETCD_WAIT_TIMEOUT: '1' },
    });
    try {
      const report = await offline.run();
      expect(report.ok).toBe(false);
      expect(report.error).toMatch(
        new RegExp(
          `^etcd is unreachable at http://127\\.0\\.0\\.1:${port}: .*; nothing was deleted$`,
        ),
      );
      expect(docker.pings).toBe(0);
    } finally {
      await offline.close();
    }
  });

  it('should stop at once on SIGTERM during the quiesce and delete nothing', async () => {
    await a.pools.requestPool(shared('quiet', '10.87.0.0/24'));
    await take(a, 'quiet', '10.87.0.5');
    const before = await raw.dump();
    const stop = new AbortController();
    setTimeout(() => stop.abort('SIGTERM'), 300);
    const started = Date.now();

    const report = await cleanup.run({ quiesceSeconds: 60 }, stop.signal);

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(report.ok).toBe(false);
    expect(report.error).toBe('interrupted by SIGTERM during the quiesce; nothing was deleted');
    expect(docker.lists).toBe(0);
    expect(await raw.dump()).toEqual(before);
  });

  it('should warn when NODE_ID owns nothing although Docker has networks of the driver', async () => {
    await b.pools.requestPool(shared('theirs', '10.88.0.0/24'));
    docker.networks = [
      dockerNetwork('theirs', {
        poolOption: 'theirs',
        configs: [{ subnet: '10.88.0.0/24', auxAddresses: [] }],
      }),
    ];
    const report = await cleanup.run();
    expect(report.warnings).toContainEqual(expect.stringContaining('is NODE_ID the plugin'));
  });

  describe('--forget-node', () => {
    let gone: IpamNode;

    beforeEach(async () => {
      gone = await startNode({ nodeId: 'gone', endpoints, prefix });
    });

    afterEach(async () => {
      await gone.close();
    });

    it("should remove exactly the named node's addresses and memberships, then the pools it leaves empty", async () => {
      // A shared pool the gone node created (its gateway record is the gone node's).
      await gone.pools.requestPool(shared('shared', '10.89.0.0/24'));
      await a.pools.requestPool(shared('shared'));
      await b.pools.requestPool(shared('shared'));
      await take(gone, 'shared', '10.89.0.10');
      await take(gone, 'shared', '10.89.0.11');
      // An --aux-address the gone node asked for first: the network's, it stays with the pool.
      await gone.addresses.requestAddress({ poolId: 'shared', address: '10.89.0.12', options: {} });
      await take(a, 'shared', '10.89.0.20');
      await take(b, 'shared', '10.89.0.30');
      // A pool only the gone node used.
      await gone.pools.requestPool(shared('solo', '10.89.1.0/24'));
      await take(gone, 'solo', '10.89.1.10');
      // A pool the gone node never joined.
      await a.pools.requestPool(shared('mine', '10.89.2.0/24'));
      await take(a, 'mine', '10.89.2.10');
      const before = await raw.dump();

      const dry = await cleanup.run({ forgetNode: 'gone', dryRun: true });
      expect(dry.totals).toMatchObject({ freed: 3, membershipsDeleted: 2, poolsDeleted: 1 });
      expect(await raw.dump()).toEqual(before);

      const report = await cleanup.run({ forgetNode: 'gone', yes: true });

      expect(report).toMatchObject({ ok: true, mode: 'forget-node', node: 'gone' });
      expect(poolOf(report.pools, 'shared')).toMatchObject({
        freed: 2,
        reasons: { forgotten: 2, gateway: 1, aux: 1, 'other-node': 2 },
        membership: { node: 'gone', result: 'deleted', reason: 'forgotten' },
        outcome: { result: 'kept', reason: 'has-members' },
      });
      expect(poolOf(report.pools, 'solo').outcome).toEqual({ result: 'deleted' });
      expect(poolOf(report.pools, 'mine')).toMatchObject({ freed: 0 });
      expect(poolOf(report.pools, 'mine').membership).toBeUndefined();

      const expected = { ...before };
      for (const key of Object.keys(expected)) {
        if (
          ['addresses/shared/10.89.0.10', 'addresses/shared/10.89.0.11'].includes(key) ||
          key === 'pool-nodes/shared/gone' ||
          key.includes('solo') ||
          key === 'subnets/10.89.1.0'
        ) {
          delete expected[key];
        }
      }
      expect(await raw.dump()).toEqual(expected);
      // The gone node's gateway and aux address stay as long as their pool.
      expect(expected['addresses/shared/10.89.0.1']).toMatchObject({
        node: 'gone',
        type: 'gateway',
      });
      expect(expected['addresses/shared/10.89.0.12']).toMatchObject({ node: 'gone', type: 'aux' });
    });

    it("should refuse this node's own NODE_ID and change nothing", async () => {
      await a.pools.requestPool(shared('own', '10.89.3.0/24'));
      const before = await raw.dump();
      const report = await cleanup.run({ forgetNode: 'node-a', yes: true });
      expect(report.ok).toBe(false);
      expect(report.error).toContain("is this node's own NODE_ID");
      expect(await raw.dump()).toEqual(before);
    });
  });
});
