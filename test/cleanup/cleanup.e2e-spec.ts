import { describe, expect, inject, it } from 'vitest';

import type { CleanupReport, PoolReport } from '../../apps/cleanup/src/report.js';
import { pluginCall, type PluginProcess } from '../e2e/plugin-process.js';
import { RawEtcd, startNode } from '../int/harness.js';
import { containerOptions } from '../support/docker-calls.js';
import { dockerWithPluginEachTest } from '../support/docker-fixture.js';
import { BUSYBOX_IMAGE, type DockerHost } from '../support/dockerd.js';
import { freePorts } from '../support/etcd.js';
import { runCleanupCli, startCleanupCli, waitForStderr } from './cleanup-process.js';

const endpoints = inject('etcdEndpoints');
const NODE = 'docker-1';

function poolOf(report: CleanupReport, id: string): PoolReport {
  const found = report.pools.find((p) => p.pool === id);
  if (!found) {
    throw new Error(`no pool ${id} in ${JSON.stringify(report)}`);
  }
  return found;
}

function reasonOf(report: CleanupReport, ip: string): string | undefined {
  return report.pools.flatMap((p) => p.addresses).find((a) => a.ip === ip)?.reason;
}

/**
 * The built cleanup (bin/kontena-ipam-cleanup's dist) against a real dockerd that uses the built
 * plugin, on a real etcd. Each test has its own plugin, driver name and key prefix, and removes
 * its containers and networks before the plugin stops.
 */
describe('kontena-ipam-cleanup with a real dockerd', () => {
  let host: DockerHost;
  let plugin: PluginProcess;
  let raw: RawEtcd;
  let prefix: string;
  let driver: string;

  dockerWithPluginEachTest(
    { endpoints, nodeId: NODE, label: 'cleanup-e2e', name: 'cleanup' },
    (f) => {
      ({ host, plugin, raw, prefix, driver } = f);
    },
  );

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    NODE_ID: NODE,
    ETCD_ENDPOINT: endpoints.join(','),
    ETCD_PREFIX: prefix,
    DOCKER_HOST: host.host,
    // Its file name is the driver name, as for the plugin.
    KONTENA_IPAM_SOCKET: plugin.socketPath,
    ...extra,
  });

  const call = (method: string, body: unknown) =>
    pluginCall(plugin.socketPath, method, body, { timeoutMs: 30_000 });
  /** A dynamic shared pool requested straight through the plugin socket. */
  const requestPool = async (network: string): Promise<string> => {
    const res = await call('IpamDriver.RequestPool', {
      AddressSpace: 'kontenaglobal',
      Pool: '',
      SubPool: '',
      Options: { network },
      V6: false,
    });
    expect({ status: res.status, text: res.text }).toMatchObject({ status: 200 });
    return String(res.body?.Pool);
  };
  /**
   * A container's address allocated straight through the plugin socket (with a MAC, as dockerd
   * sends it): Docker knows nothing of it.
   */
  const allocate = async (poolId: string, address = ''): Promise<string> => {
    const res = await call('IpamDriver.RequestAddress', {
      PoolID: poolId,
      Address: address,
      Options: containerOptions(),
    });
    expect({ status: res.status, text: res.text }).toMatchObject({ status: 200 });
    return String(res.body?.Address).split('/')[0]!;
  };
  /** Whether a static request for the address succeeds (then it is released again). */
  const isFree = async (poolId: string, address: string): Promise<boolean> => {
    const res = await call('IpamDriver.RequestAddress', {
      PoolID: poolId,
      Address: address,
      Options: containerOptions(),
    });
    if (res.status !== 200) {
      expect(res.body?.Err).toContain('already allocated');
      return false;
    }
    await call('IpamDriver.ReleaseAddress', { PoolID: poolId, Address: address });
    return true;
  };
  const containerIp = async (name: string, network: string): Promise<string> =>
    (
      await host.docker([
        'inspect',
        '-f',
        `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
        name,
      ])
    ).stdout.trim();
  const run = (name: string, network: string) =>
    host.docker(['run', '-d', '--name', name, '--net', network, BUSYBOX_IMAGE, 'sleep', '600']);
  const subnetOf = async (network: string): Promise<string> =>
    (
      await host.docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', network])
    ).stdout.trim();

  it("should free the orphans and keep containers, the gateways, aux addresses and another node's addresses", async () => {
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=kontena',
      '--subnet',
      '10.81.0.0/24',
      '--gateway',
      '10.81.0.254',
      '--aux-address',
      'host1=10.81.0.10',
      'kontena',
    ]);
    await run('c1', 'kontena');
    await run('c2', 'kontena');
    const containers = [await containerIp('c1', 'kontena'), await containerIp('c2', 'kontena')];
    const orphans = [
      await allocate('kontena'),
      await allocate('kontena'),
      await allocate('kontena', '10.81.0.200'),
    ];
    // Another node of the fleet on the same pool.
    const other = await startNode({ nodeId: 'docker-2', endpoints, prefix });
    let theirs: string;
    try {
      await other.pools.requestPool({ options: { network: 'kontena' }, v6: false });
      theirs = (
        await other.addresses.requestAddress({ poolId: 'kontena', options: {} })
      ).address.split('/')[0]!;
    } finally {
      await other.close();
    }

    const res = await runCleanupCli(['--quiesce', '0', '--json'], env());

    expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
    const report = JSON.parse(res.stdout) as CleanupReport;
    expect(poolOf(report, 'kontena')).toMatchObject({
      networks: ['kontena'],
      freed: 3,
      reasons: {
        orphan: 3,
        container: 2,
        'docker-gateway': 1,
        'aux-address': 1,
        gateway: 1,
        'other-node': 1,
      },
      membership: { node: NODE, result: 'kept', refs: 1 },
    });
    expect(
      report.pools
        .flatMap((p) => p.addresses.filter((a) => a.result === 'freed').map((a) => a.ip))
        .sort(),
    ).toEqual([...orphans].sort());
    for (const ip of orphans) {
      expect({ ip, free: await isFree('kontena', ip) }).toEqual({ ip, free: true });
    }
    for (const ip of [...containers, '10.81.0.1', '10.81.0.254', '10.81.0.10', theirs]) {
      expect({ ip, free: await isFree('kontena', ip) }).toEqual({ ip, free: false });
    }
    expect(await raw.keys('pool-nodes/kontena/')).toEqual([
      'pool-nodes/kontena/docker-1',
      'pool-nodes/kontena/docker-2',
    ]);
  });

  it('should keep a container started and an address allocated during the quiesce', async () => {
    // Without the network option: Docker shows the subnet only, the pool is found by it.
    await host.docker(['network', 'create', '--ipam-driver', driver, 'dyn']);
    const [poolKey] = await raw.keys('pools/');
    const poolId = poolKey!.slice('pools/'.length);
    expect(poolId).toMatch(/^local-/);

    // The default quiesce (10 s).
    const pass = startCleanupCli(['--json', '--driver', driver], env({ KONTENA_IPAM_SOCKET: '' }));
    let during: string;
    let late: string;
    try {
      await waitForStderr(pass, /recorded etcd revision \d+; waiting 10 s/);
      const started = Date.now();
      await run('late', 'dyn');
      during = await allocate(poolId);
      late = await containerIp('late', 'dyn');
      // The container was up well before the pass looked at Docker.
      expect(Date.now() - started).toBeLessThan(8_500);
      expect({ code: await pass.exited, stderr: pass.stderr() }).toMatchObject({ code: 0 });
    } finally {
      pass.child.kill('SIGKILL');
    }

    const report = JSON.parse(pass.stdout()) as CleanupReport;
    expect(poolOf(report, poolId)).toMatchObject({ networks: ['dyn'], freed: 0 });
    expect(reasonOf(report, late)).toBe('container');
    expect(reasonOf(report, during)).toBe('new');
    expect(await isFree(poolId, late)).toBe(false);
    expect(await isFree(poolId, during)).toBe(false);
  });

  it('should change nothing with --dry-run, when Docker is unreachable or on SIGTERM, and exit 2 on bad usage', async () => {
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=dry',
      'dry',
    ]);
    const orphan = await allocate('dry');
    const before = await raw.dump();
    const revision = await raw.revision();

    const dry = await runCleanupCli(['--dry-run', '--quiesce', '0'], env());
    expect({ code: dry.code, stderr: dry.stderr }).toMatchObject({ code: 0 });
    expect(dry.stdout).toMatch(
      /^pool dry 10\.80\.\d+\.0\/24: kept 1 \(docker-gateway 1\), would free 1 \(orphan 1\), skipped 0; membership of docker-1 kept \(refs 1, network dry\)$/m,
    );
    expect(dry.stdout).toContain('(dry run, nothing changed)');

    const [port] = await freePorts(1);
    for (const dockerHost of ['unix:///nonexistent/docker.sock', `tcp://127.0.0.1:${port}`]) {
      const down = await runCleanupCli(['--quiesce', '0'], env({ DOCKER_HOST: dockerHost }));
      expect({ dockerHost, code: down.code }).toEqual({ dockerHost, code: 1 });
      expect(down.stderr).toContain(`Docker is unreachable at ${dockerHost}`);
      expect(down.stderr).toContain('nothing was deleted');
    }
    // SIGTERM during the quiesce: out at once, exit 1, nothing deleted.
    const stopped = startCleanupCli(['--quiesce', '60'], env());
    try {
      await waitForStderr(stopped, /recorded etcd revision \d+; waiting 60 s/);
      const signalled = Date.now();
      stopped.child.kill('SIGTERM');
      expect(await stopped.exited).toBe(1);
      expect(Date.now() - signalled).toBeLessThan(5_000);
      expect(stopped.stderr()).toContain(
        'interrupted by SIGTERM during the quiesce; nothing was deleted',
      );
    } finally {
      stopped.child.kill('SIGKILL');
    }
    expect(await raw.revision()).toBe(revision);
    expect(await raw.dump()).toEqual(before);
    expect(await isFree('dry', orphan)).toBe(false);

    for (const args of [
      ['--quiesce', '-1'],
      ['--forget-node', NODE, '--yes'],
      ['--forget-node', 'x'],
    ]) {
      const bad = await runCleanupCli(args, env());
      expect({ args, code: bad.code }).toEqual({ args, code: 2 });
    }
    expect(await raw.dump()).toEqual(before);
  });

  it('should delete an interrupted pool and an unused one, whose subnets the next dynamic networks get', async () => {
    expect(await requestPool('half')).toBe('10.80.0.0/24');
    expect(await requestPool('stale')).toBe('10.80.1.0/24');
    // "half": its last member released it, and the deletion was interrupted.
    await raw.client.delete().key(`${prefix}/pool-nodes/half/${NODE}`);
    // "stale": this node is still a member, but no Docker network uses it.
    await host.docker(['network', 'create', '--ipam-driver', driver, 'live']);
    expect(await subnetOf('live')).toBe('10.80.2.0/24');

    const res = await runCleanupCli(['--quiesce', '0'], env());

    expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
    expect(res.stdout).toMatch(
      /^pool half 10\.80\.0\.0\/24: .*; pool deleted \(no member left\)$/m,
    );
    expect(res.stdout).toMatch(
      /^pool stale 10\.80\.1\.0\/24: .*; membership of docker-1 deleted \(no local network uses the pool\); pool deleted \(no member left\)$/m,
    );
    expect((await raw.keys('pools/')).length).toBe(1);
    await host.docker(['network', 'create', '--ipam-driver', driver, 'next1']);
    await host.docker(['network', 'create', '--ipam-driver', driver, 'next2']);
    expect([await subnetOf('next1'), await subnetOf('next2')]).toEqual([
      '10.80.0.0/24',
      '10.80.1.0/24',
    ]);
  });

  it("should forget exactly the named node's addresses and memberships", async () => {
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=fleet',
      'fleet',
    ]);
    await run('f1', 'fleet');
    const mine = await containerIp('f1', 'fleet');
    const gone = await startNode({ nodeId: 'gone', endpoints, prefix });
    try {
      await gone.pools.requestPool({ options: { network: 'fleet' }, v6: false });
      await gone.addresses.requestAddress({ poolId: 'fleet', options: {} });
      await gone.pools.requestPool({ options: { network: 'gone-only' }, v6: false });
    } finally {
      await gone.close();
    }
    const before = await raw.dump();

    const res = await runCleanupCli(['--forget-node', 'gone', '--yes', '--json'], env());

    expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
    const report = JSON.parse(res.stdout) as CleanupReport;
    expect(report.totals).toMatchObject({ freed: 1, membershipsDeleted: 2, poolsDeleted: 1 });
    const after = await raw.dump();
    const removed = Object.keys(before).filter((k) => !(k in after));
    expect(removed.filter((k) => !k.includes('gone-only') && !k.startsWith('subnets/'))).toEqual([
      expect.stringMatching(/^addresses\/fleet\//),
      'pool-nodes/fleet/gone',
    ]);
    for (const [key, value] of Object.entries(after)) {
      expect({ key, value }).toEqual({ key, value: before[key] });
    }
    expect(await isFree('fleet', mine)).toBe(false);
  });
});
