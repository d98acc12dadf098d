import type { TestingModule } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { Addr } from '#app/net';
import { CleanupStore, PlanStore } from '#app/store';

import { releaseAddress } from '../../apps/ctl/src/release/release.js';
import { dockerNetwork, FakeDocker } from '../cleanup/harness.js';
import { RawEtcd, startNode, type IpamNode } from '../int/harness.js';
import { uniquePrefix } from '../support/prefix.js';
import { startCtl } from './harness.js';
import { containerOptions } from '../support/docker-calls.js';

const endpoints = inject('etcdEndpoints');

/** `kontena-ipam-ctl release POOL ADDR` on a real etcd; this host's Docker is a fake. */
describe('kontena-ipam-ctl release on a real etcd', () => {
  let prefix: string;
  let raw: RawEtcd;
  let a: IpamNode;
  let b: IpamNode;
  let ctl: TestingModule;
  let docker: FakeDocker;
  let out: string[];
  let err: string[];

  beforeEach(async () => {
    prefix = uniquePrefix('ctl-release');
    raw = new RawEtcd(endpoints, prefix);
    a = await startNode({ nodeId: 'node-a', endpoints, prefix });
    b = await startNode({ nodeId: 'node-b', endpoints, prefix });
    await a.pools.requestPool({ options: { network: 'rel' }, pool: '10.88.0.0/24', v6: false });
    await b.pools.requestPool({ options: { network: 'rel' }, pool: '10.88.0.0/24', v6: false });
    await a.addresses.requestAddress({
      poolId: 'rel',
      address: '10.88.0.5',
      options: containerOptions(),
    });
    await b.addresses.requestAddress({
      poolId: 'rel',
      address: '10.88.0.6',
      options: containerOptions(),
    });
    ctl = await startCtl(endpoints, prefix, 'node-a');
    docker = new FakeDocker();
    out = [];
    err = [];
  });

  afterEach(async () => {
    await ctl.close();
    await a.close();
    await b.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const release = (pool: string, ip: string, force = false): Promise<number> =>
    releaseAddress(
      {
        plan: ctl.get(PlanStore),
        cleanup: ctl.get(CleanupStore),
        docker,
        nodeId: 'node-a',
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      },
      { pool, ip: Addr.parse(ip), force },
    );
  const held = async (): Promise<string[]> =>
    (await raw.keys('addresses/rel/')).map((k) => k.slice('addresses/rel/'.length));

  it("should free this node's address that no container on this host uses", async () => {
    docker.networks = [dockerNetwork('rel', { endpoints: [{ name: 'web', ipv4: '10.88.0.9' }] })];
    expect(await release('rel', '10.88.0.5')).toBe(0);
    expect(out).toEqual(['released 10.88.0.5 of pool rel (held by node node-a)']);
    expect(await held()).toEqual(['10.88.0.1', '10.88.0.6']);
    // Once more: already free, exit 0 with a note, nothing written.
    const revision = await raw.revision();
    expect(await release('rel', '10.88.0.5')).toBe(0);
    expect(out[1]).toBe('10.88.0.5 of pool rel is already free: nothing to do');
    expect(await raw.revision()).toBe(revision);
  });

  it.each([
    {
      name: 'a container uses it',
      setup: (d: FakeDocker) => {
        d.networks = [dockerNetwork('rel', { endpoints: [{ name: 'web', ipv4: '10.88.0.5' }] })];
      },
      message:
        /10\.88\.0\.5 is in use on this host by container web on network rel; nothing was released/,
    },
    {
      name: 'another network lists it as an aux address',
      setup: (d: FakeDocker) => {
        d.networks = [
          dockerNetwork('other', {
            configs: [{ subnet: '10.88.0.0/24', auxAddresses: ['10.88.0.5'] }],
          }),
        ];
      },
      message: /in use on this host by an aux address of network other/,
    },
    {
      name: 'Docker does not answer',
      setup: (d: FakeDocker) => {
        d.down = true;
      },
      message:
        /cannot confirm that no container uses 10\.88\.0\.5: Docker is unreachable .*--force skips/,
    },
  ])('should refuse when $name, and change nothing', async ({ setup, message }) => {
    setup(docker);
    const revision = await raw.revision();
    expect(await release('rel', '10.88.0.5')).toBe(1);
    expect(err.join('\n')).toMatch(message);
    expect(out).toEqual([]);
    expect(await raw.revision()).toBe(revision);
  });

  it.each([
    {
      name: 'the gateway, even with --force',
      ip: '10.88.0.1',
      force: true,
      message: /is the gateway of pool rel/,
    },
    {
      name: "another node's address without --force",
      ip: '10.88.0.6',
      force: false,
      message: /held by node node-b, not by this node \(NODE_ID node-a\).*--force/,
    },
    {
      name: 'an address outside the pool',
      ip: '10.89.0.5',
      force: true,
      message: /not inside pool rel \(10\.88\.0\.0\/24\)/,
    },
  ])('should refuse $name', async ({ ip, force, message }) => {
    const revision = await raw.revision();
    expect(await release('rel', ip, force)).toBe(1);
    expect(err.join('\n')).toMatch(message);
    expect(await raw.revision()).toBe(revision);
    expect(docker.lists).toBe(0);
  });

  it('should refuse a pool that does not exist', async () => {
    expect(await release('nope', '10.88.0.5')).toBe(1);
    expect(err).toEqual([`pool nope does not exist under ${prefix}; nothing was released`]);
  });

  it("should free another node's address with --force, without asking Docker, with a warning", async () => {
    docker.down = true;
    expect(await release('rel', '10.88.0.6', true)).toBe(0);
    expect(err).toEqual([
      'warning: --force: Docker was not asked whether a container uses 10.88.0.6 (held by node node-b)',
    ]);
    expect(await held()).toEqual(['10.88.0.1', '10.88.0.5']);
    expect(docker.pings + docker.lists).toBe(0);
  });

  it('should keep an address released and taken again while Docker was asked', async () => {
    docker.onList = async () => {
      await a.addresses.releaseAddress({ poolId: 'rel', address: '10.88.0.5' });
      await b.addresses.requestAddress({
        poolId: 'rel',
        address: '10.88.0.5',
        options: containerOptions(),
      });
    };
    expect(await release('rel', '10.88.0.5')).toBe(1);
    expect(err.join('\n')).toMatch(/changed since it was read .*; nothing was released/);
    expect((await raw.dump())['addresses/rel/10.88.0.5']).toMatchObject({ node: 'node-b' });
  });
});
