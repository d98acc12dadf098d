import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RawEtcd } from '../int/harness.js';
import {
  registerPluginSpec,
  startDockerd,
  BUSYBOX_IMAGE,
  type DockerHost,
} from '../support/dockerd.js';
import { startDockerWithPlugin, type DockerPlugin } from '../support/docker-fixture.js';
import { startEtcd } from '../support/etcd.js';
import { startPlugin } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');

interface IpamConfigEntry {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

async function inspectIpam(host: DockerHost, network: string): Promise<IpamConfigEntry[]> {
  const res = await host.docker(['network', 'inspect', network]);
  const parsed = JSON.parse(res.stdout) as {
    IPAM: { Driver: string; Config: IpamConfigEntry[] };
  }[];
  return parsed[0]!.IPAM.Config;
}

async function containerIp(host: DockerHost, container: string, network: string): Promise<string> {
  const res = await host.docker([
    'inspect',
    '-f',
    `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
    container,
  ]);
  return res.stdout.trim();
}

describe('through a real dockerd', () => {
  let fixture: DockerPlugin;
  let host: DockerHost;
  let raw: RawEtcd;
  let driver: string;

  beforeAll(async () => {
    fixture = await startDockerWithPlugin({
      endpoints,
      nodeId: 'docker-1',
      label: 'docker',
      name: 'e2e',
    });
    ({ host, raw, driver } = fixture);
  });

  afterAll(() => fixture?.stop());

  it('should create the static network of the README and give containers addresses in its range', async () => {
    await host.docker([
      'network',
      'create',
      '--driver',
      'bridge',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=kontena',
      '--subnet',
      '10.81.0.0/16',
      '--ip-range',
      '10.81.128.0/17',
      'kontena',
    ]);
    // Docker 20.10 lists only what the user configured; the gateway came from the plugin's reply.
    expect(await inspectIpam(host, 'kontena')).toEqual([
      { Subnet: '10.81.0.0/16', IPRange: '10.81.128.0/17' },
    ]);
    await host.docker([
      'run',
      '-d',
      '--name',
      'c1',
      '--net',
      'kontena',
      BUSYBOX_IMAGE,
      'sleep',
      '300',
    ]);
    const ip = await containerIp(host, 'c1', 'kontena');
    const gateway = await host.docker([
      'inspect',
      '-f',
      '{{(index .NetworkSettings.Networks "kontena").Gateway}}',
      'c1',
    ]);
    expect(gateway.stdout.trim()).toBe('10.81.0.1');
    expect(ip).toMatch(/^10\.81\.(1(2[89]|[3-9]\d)|2\d\d)\.\d+$/);
    expect((await raw.dump())[`addresses/kontena/${ip}`]).toMatchObject({
      node: 'docker-1',
      type: 'endpoint',
    });

    // --ip works, and a duplicate --ip fails with the plugin's own message.
    await host.docker([
      'run',
      '-d',
      '--name',
      'c2',
      '--net',
      'kontena',
      '--ip',
      '10.81.200.10',
      BUSYBOX_IMAGE,
      'sleep',
      '300',
    ]);
    expect(await containerIp(host, 'c2', 'kontena')).toBe('10.81.200.10');
    const dup = await host.docker(
      [
        'run',
        '-d',
        '--name',
        'c3',
        '--net',
        'kontena',
        '--ip',
        '10.81.200.10',
        BUSYBOX_IMAGE,
        'sleep',
        '300',
      ],
      { allowFail: true },
    );
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain(
      'IpamDriver.RequestAddress: address 10.81.200.10 is already allocated in pool kontena',
    );
    expect(dup.stderr).not.toContain('{"Err"');

    // Removing a container releases its address.
    await host.docker(['rm', '-f', 'c2']);
    expect(Object.keys(await raw.dump())).not.toContain('addresses/kontena/10.81.200.10');
    await host.docker(['rm', '-f', 'c1', 'c3'], { allowFail: true });
    await host.docker(['network', 'rm', 'kontena']);
    expect(await raw.keys('pools/')).not.toContain('pools/kontena');
  });

  it('should create dynamic networks and reuse a subnet after docker network rm', async () => {
    await host.docker(['network', 'create', '--ipam-driver', driver, 'dyn1']);
    const [first] = await inspectIpam(host, 'dyn1');
    expect(first).toMatchObject({ Subnet: '10.80.0.0/24', Gateway: '10.80.0.1' });
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=shared-dyn',
      'dyn2',
    ]);
    expect((await inspectIpam(host, 'dyn2'))[0]).toMatchObject({ Subnet: '10.80.1.0/24' });
    await host.docker([
      'run',
      '-d',
      '--name',
      'd1',
      '--net',
      'dyn1',
      BUSYBOX_IMAGE,
      'sleep',
      '300',
    ]);
    expect(await containerIp(host, 'd1', 'dyn1')).toMatch(/^10\.80\.0\.(\d+)$/);
    await host.docker(['rm', '-f', 'd1']);
    await host.docker(['network', 'rm', 'dyn1']);
    await host.docker(['network', 'create', '--ipam-driver', driver, 'dyn3']);
    expect((await inspectIpam(host, 'dyn3'))[0]).toMatchObject({ Subnet: '10.80.0.0/24' });
    await host.docker(['network', 'rm', 'dyn2', 'dyn3']);
    expect(await raw.state()).toEqual({});
  });

  it('should give a network removed and created again with another --subnet its new subnet', async () => {
    // Issue #15, item 1: the plugin answered --ip from what it knew of the removed network's pool.
    const create = (subnet: string) =>
      host.docker([
        'network',
        'create',
        '--ipam-driver',
        driver,
        '--ipam-opt',
        'network=again',
        '--subnet',
        subnet,
        'again',
      ]);
    const run = (name: string, ...args: string[]) =>
      host.docker([
        'run',
        '-d',
        '--name',
        name,
        '--net',
        'again',
        ...args,
        BUSYBOX_IMAGE,
        'sleep',
        '300',
      ]);
    await create('10.90.0.0/24');
    await run('a1');
    expect(await containerIp(host, 'a1', 'again')).toMatch(/^10\.90\.0\.\d+$/);
    await host.docker(['rm', '-f', 'a1']);
    await host.docker(['network', 'rm', 'again']);
    await create('10.91.0.0/24');
    await run('a2', '--ip', '10.91.0.5');
    expect(await containerIp(host, 'a2', 'again')).toBe('10.91.0.5');
    await run('a3');
    expect(await containerIp(host, 'a3', 'again')).toMatch(/^10\.91\.0\.\d+$/);
    await host.docker(['rm', '-f', 'a2', 'a3']);
    await host.docker(['network', 'rm', 'again']);
    expect(await raw.state()).toEqual({});
  });

  it('should reserve --gateway and --aux-address', async () => {
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=gw',
      '--subnet',
      '10.82.0.0/24',
      '--gateway',
      '10.82.0.254',
      '--aux-address',
      'host1=10.82.0.10',
      'gw',
    ]);
    expect(await inspectIpam(host, 'gw')).toEqual([
      {
        Subnet: '10.82.0.0/24',
        Gateway: '10.82.0.254',
        AuxiliaryAddresses: { host1: '10.82.0.10' },
      },
    ]);
    const dump = await raw.dump();
    expect(dump['addresses/gw/10.82.0.254']).toMatchObject({ type: 'gateway', node: 'docker-1' });
    expect(dump['addresses/gw/10.82.0.10']).toMatchObject({ node: 'docker-1' });
    const clash = await host.docker(
      [
        'run',
        '-d',
        '--name',
        'g1',
        '--net',
        'gw',
        '--ip',
        '10.82.0.10',
        BUSYBOX_IMAGE,
        'sleep',
        '300',
      ],
      { allowFail: true },
    );
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain(
      'IpamDriver.RequestAddress: address 10.82.0.10 is already allocated in pool gw',
    );
    await host.docker(['rm', '-f', 'g1'], { allowFail: true });
    await host.docker(['network', 'rm', 'gw']);
    expect(await raw.state()).toEqual({});
  });
});

describe('a plugin started before etcd', () => {
  it('should serve docker network create once etcd comes up', async () => {
    const cluster = await startEtcd({ name: 'late-docker' });
    await cluster.killMember(0);
    const host = await startDockerd({ netns: true, name: 'late' });
    const plugin = await startPlugin({
      env: { NODE_ID: 'late', ETCD_ENDPOINT: cluster.endpoints.join(','), ETCD_WAIT_TIMEOUT: '60' },
    });
    const unregister = registerPluginSpec(plugin.driverName, plugin.socketPath);
    try {
      const create = host.docker(
        [
          'network',
          'create',
          '--ipam-driver',
          plugin.driverName,
          '--ipam-opt',
          'network=late',
          'late',
        ],
        { timeoutMs: 60_000 },
      );
      await new Promise((r) => setTimeout(r, 2_000));
      await cluster.restartMember(0);
      const res = await create;
      expect(res.code).toBe(0);
      expect((await inspectIpam(host, 'late'))[0]).toMatchObject({ Subnet: '10.80.0.0/24' });
      await host.docker(['network', 'rm', 'late']);
    } finally {
      await host.stop();
      await unregister();
      await plugin.stop();
      await cluster.stop();
    }
  });
});
