import type { TestingModule } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { Addr } from '#app/net';
import { PlanStore } from '#app/store';

import { lookupIp } from '../../apps/ctl/src/show/ip-lookup.js';
import { renderPlanJson, renderPlanText } from '../../apps/ctl/src/show/plan-render.js';
import { planView, supernetsShown } from '../../apps/ctl/src/show/plan-view.js';
import { streamPoolAddresses } from '../../apps/ctl/src/show/pool-addresses.js';
import { uniquePrefix } from '../support/prefix.js';
import { startCtl } from './harness.js';
import { dockerNetwork, FakeDocker } from '../cleanup/harness.js';
import type { DockerNetwork } from '../../apps/cleanup/src/docker/docker-networks.js';
import { RawEtcd, startNode, type IpamNode } from '../int/harness.js';
import { containerOptions } from '../support/docker-calls.js';

const endpoints = inject('etcdEndpoints');
const SUPERNETS = [{ supernet: '10.80.0.0/12', subnetLength: 24 }];
const SUPERNETS_CONFIG = { supernets: SUPERNETS };
const PASS_TIME = '2026-12-07T01:00:00.000Z';
const ip = (cidr: string): string => cidr.split('/')[0] ?? '';

const noDocker = Object.assign(new FakeDocker(), { down: true });
const dockerWith = (network: DockerNetwork): FakeDocker =>
  Object.assign(new FakeDocker(), { networks: [network] });

/** `kontena-ipam-ctl show`, `show POOL` and `show --ip` on a plan two nodes made in etcd. */
describe('kontena-ipam-ctl show on a real etcd', () => {
  let prefix: string;
  let a: IpamNode;
  let b: IpamNode;
  let ctl: TestingModule;
  let store: PlanStore;
  let raw: RawEtcd;
  let blue: string;
  /** `<ip> <node> <kind> [<name>]` of every address of blue, in key order */
  const held: string[] = [];
  let web1: string;

  beforeAll(async () => {
    prefix = uniquePrefix('ctl-show');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    b = await startNode({ nodeId: 'node-b', endpoints, prefix });
    blue = (await a.pools.requestPool({ options: { network: 'blue' }, v6: false })).pool;
    await b.pools.requestPool({ options: { network: 'blue' }, v6: false });
    await b.pools.requestPool({ options: { network: 'blue' }, v6: false });
    await b.pools.requestPool({ options: { network: 'green' }, v6: false });
    for (let i = 0; i < 3; i++) {
      const reply = await a.addresses.requestAddress({ poolId: 'blue', options: {} });
      held.push(`${ip(reply.address)} node-a endpoint`);
    }
    web1 = ip(
      (
        await b.addresses.requestAddress({
          poolId: 'blue',
          options: { 'com.docker.network.endpoint.name': 'web-1' },
        })
      ).address,
    );
    held.push(`${web1} node-b endpoint web-1`);
    await b.addresses.requestAddress({
      poolId: 'blue',
      address: '10.80.0.200',
      options: containerOptions(),
    });
    held.push('10.80.0.200 node-b endpoint', '10.80.0.1 node-a gateway');
    held.sort();
    const pass = { time: PASS_TIME, revision: '7', kept: 5, freed: 2, skipped: 0 };
    await b.cleanup.recordPass(
      'node-b',
      { ...pass, membershipsDeleted: 0, refsSet: 0, poolsDeleted: 1 },
      b.cleanup.deadline(),
    );
    ctl = await startCtl(endpoints, prefix);
    store = ctl.get(PlanStore);
  });

  afterAll(async () => {
    await ctl?.close();
    await a?.close();
    await b?.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  it('show should count every pool, its members, the supernet and the cleanup passes', async () => {
    const view = planView(await store.readPlan(store.deadline()), prefix, SUPERNETS);
    expect(blue).toBe('10.80.0.0/24');
    expect(view.revision).toBe(await raw.revision());
    expect(JSON.parse(renderPlanJson(view))).toEqual({
      prefix,
      revision: view.revision,
      pools: [
        {
          id: 'blue',
          family: 'ipv4',
          subnet: '10.80.0.0/24',
          ipRange: null,
          gateway: '10.80.0.1',
          nodes: [
            { node: 'node-a', refs: 1 },
            { node: 'node-b', refs: 2 },
          ],
          // the gateway, three of node-a's, two of node-b's
          allocated: '6',
          size: '254',
          free: '248',
        },
        {
          id: 'green',
          family: 'ipv4',
          subnet: '10.80.1.0/24',
          ipRange: null,
          gateway: '10.80.1.1',
          nodes: [{ node: 'node-b', refs: 1 }],
          allocated: '1',
          size: '254',
          free: '253',
        },
      ],
      supernets: [
        {
          family: 'ipv4',
          supernet: '10.80.0.0/12',
          subnetLength: 24,
          subnets: '4096',
          carved: '2',
          free: '4094',
        },
      ],
      nodes: [
        { node: 'node-a', pools: 1, plugins: [], lastCleanupPass: null },
        {
          node: 'node-b',
          pools: 2,
          plugins: [],
          lastCleanupPass: expect.objectContaining({ time: PASS_TIME, freed: 2, poolsDeleted: 1 }),
        },
      ],
    });
    const text = renderPlanText(view, new Date(Date.parse(PASS_TIME) + 5 * 60_000));
    expect(text.find((l) => l.startsWith('blue'))).toMatch(
      /^blue +ipv4 +10\.80\.0\.0\/24 +- +10\.80\.0\.1 +node-a\(1\) node-b\(2\) +6 +254 +248 +\[#\.+\] +2\.4%$/,
    );
    expect(text.find((l) => l.startsWith('node-b'))).toMatch(
      / 2026-12-07T01:00:00.000Z +5m +2 +5 +1$/,
    );
    expect(text.find((l) => l.startsWith('node-a'))).toMatch(/ never +- +- +- +-$/);
  });

  it('show POOL should list every address page by page, with its node, kind and name', async () => {
    let text = '';
    const listing = await streamPoolAddresses(store, 'blue', { json: false, pageSize: 2 }, (t) => {
      text += t;
    });
    expect(listing).toEqual({ found: true, count: 6 });
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^pool blue \(ipv4 10\.80\.0\.0\/24\) at revision \d+$/);
    expect(lines.slice(2, -1).map((l) => l.split(/ +/).slice(0, 4).join(' '))).toEqual(held);
    expect(lines.at(-1)).toBe('6 address(es)');
  });

  it("show POOL --node --json should be one JSON document of that node's addresses", async () => {
    let json = '';
    const listing = await streamPoolAddresses(
      store,
      'blue',
      { json: true, node: 'node-b', pageSize: 1 },
      (t) => {
        json += t;
      },
    );
    expect(listing.count).toBe(2);
    expect(JSON.parse(json)).toEqual({
      pool: 'blue',
      family: 'ipv4',
      subnet: '10.80.0.0/24',
      revision: expect.stringMatching(/^\d+$/),
      node: 'node-b',
      addresses: [
        { address: '10.80.0.200', node: 'node-b', kind: 'endpoint' },
        { address: web1, node: 'node-b', kind: 'endpoint', name: 'web-1' },
      ].sort((x, y) => (x.address < y.address ? -1 : 1)),
      count: '2',
    });
  });

  it('show POOL should read every page at the revision of the pool, not what came after', async () => {
    const { revision } = await store.readPool('blue', store.deadline());
    await a.addresses.requestAddress({
      poolId: 'blue',
      address: '10.80.0.250',
      options: containerOptions(),
    });
    const seen: string[] = [];
    for await (const page of store.addressPages('blue', store.deadline(), {
      revision,
      pageSize: 2,
    })) {
      expect(page.revision).toBe(revision);
      seen.push(...page.addresses.map((x) => x.ip));
    }
    expect(seen).toHaveLength(6);
    expect(seen).not.toContain('10.80.0.250');
    await a.addresses.releaseAddress({ poolId: 'blue', address: '10.80.0.250' });
  });

  it('show POOL of a pool that does not exist should write nothing', async () => {
    let text = '';
    const listing = await streamPoolAddresses(store, 'blu', { json: false }, (t) => {
      text += t;
    });
    expect(listing).toEqual({ found: false, count: 0 });
    expect(text).toBe('');
  });

  it('show --ip should tell a held address, with Docker down', async () => {
    const lookup = await lookupIp(store, noDocker, Addr.parse(web1));
    expect(lookup).toMatchObject({
      state: 'allocated',
      pool: { id: 'blue', subnet: blue },
      node: 'node-b',
      kind: 'endpoint',
      name: 'web-1',
      docker: { answered: false, error: expect.stringContaining('unreachable') },
    });
  });

  it('show --ip should tell a free address', async () => {
    const taken = new Set(held.map((h) => h.split(' ')[0]));
    const free = [...Array(250).keys()].map((i) => `10.80.0.${i + 2}`).find((x) => !taken.has(x));
    const lookup = await lookupIp(store, noDocker, Addr.parse(free ?? ''));
    expect(lookup).toMatchObject({ state: 'free', pool: { id: 'blue' } });
    expect(lookup.node).toBeUndefined();
  });

  it.each([
    {
      name: 'the broadcast address',
      ip: '10.80.1.255',
      docker: noDocker,
      expected: { state: 'not-a-host', pool: { id: 'green' } },
      answered: false,
    },
    {
      name: 'an address in no pool',
      ip: '192.0.2.1',
      docker: noDocker,
      expected: { state: 'no-pool' },
      answered: false,
    },
  ])('show --ip should tell $name', async ({ ip: address, docker, expected, answered }) => {
    const lookup = await lookupIp(store, docker, Addr.parse(address));
    expect(lookup).toMatchObject({ address, ...expected });
    expect(lookup.docker.answered).toBe(answered);
  });

  it('show --ip should say which container on this host uses the address', async () => {
    const docker = dockerWith({
      ...dockerNetwork('blue'),
      configs: [{ subnet: blue, gateway: '10.80.0.1', auxAddresses: [] }],
      endpoints: [{ name: 'web-1', ipv4: web1 }],
    });
    const lookup = await lookupIp(store, docker, Addr.parse(web1));
    expect(lookup.docker).toEqual({
      where: 'unix:///fake/docker.sock',
      answered: true,
      uses: [{ network: 'blue', what: 'container', container: 'web-1' }],
    });
  });
});

describe("kontena-ipam-ctl show of the cluster's IPv6 supernet on a real etcd", () => {
  it("should read the IPv6 supernet a node chose, at the plan's revision, and count it", async () => {
    const prefix = uniquePrefix('ctl-show6');
    const raw = new RawEtcd(endpoints, prefix);
    const a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    const ctl = await startCtl(endpoints, prefix);
    try {
      const store = ctl.get(PlanStore);
      expect((await store.readPlan(store.deadline())).supernet6).toBeUndefined();
      const pool = (await a.pools.requestPool({ options: { network: 'six' }, v6: true })).pool;
      const plan = await store.readPlan(store.deadline());
      const supernet6 = (
        JSON.parse((await raw.client.get(`${prefix}/supernet6`).string()) ?? '{}') as {
          supernet: string;
        }
      ).supernet;
      expect(plan.supernet6).toBe(supernet6);
      const shown = supernetsShown({ ...SUPERNETS_CONFIG, subnet6Length: 64 }, plan);
      const row = planView(plan, prefix, shown).supernets.find((s) => s.family === 'ipv6');
      expect(row).toEqual({
        family: 'ipv6',
        supernet: supernet6,
        subnetLength: 64,
        subnets: 65_536n,
        carved: 1n,
        free: 65_535n,
      });
      expect(pool.endsWith('/64')).toBe(true);
    } finally {
      await ctl.close();
      await a.close();
      await raw.client.delete().prefix(`${prefix}/`);
      raw.close();
    }
  });
});
