import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { CTL_MAIN, runCleanupCli } from '../cleanup/cleanup-process.js';
import { pluginCall, type PluginProcess } from '../e2e/plugin-process.js';
import { RawEtcd } from '../int/harness.js';
import { startDockerWithPlugin, type DockerPlugin } from '../support/docker-fixture.js';
import { BUSYBOX_IMAGE, type DockerHost } from '../support/dockerd.js';
import { freePorts } from '../support/etcd.js';

const endpoints = inject('etcdEndpoints');
const NODE = 'ctl-1';

/**
 * The built kontena-ipam-ctl (bin/kontena-ipam-ctl's dist) against a real dockerd that uses the
 * built plugin, on a real etcd: release refuses an address a container uses and frees a leaked
 * one; show --ip names the container; the exit statuses of bad usage and of etcd down.
 */
describe('kontena-ipam-ctl with a real dockerd', () => {
  let fixture: DockerPlugin;
  let host: DockerHost;
  let plugin: PluginProcess;
  let raw: RawEtcd;
  let prefix: string;

  beforeAll(async () => {
    fixture = await startDockerWithPlugin({
      endpoints,
      nodeId: NODE,
      label: 'ctl-e2e',
      name: 'ctl',
    });
    ({ host, plugin, raw, prefix } = fixture);
  });

  afterAll(() => fixture?.stop());

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    NODE_ID: NODE,
    ETCD_ENDPOINT: endpoints.join(','),
    ETCD_PREFIX: prefix,
    ETCD_WAIT_TIMEOUT: '5',
    DOCKER_HOST: host.host,
    ...extra,
  });
  const ctl = (args: string[], extra: Record<string, string> = {}) =>
    runCleanupCli(args, env(extra), 60_000, CTL_MAIN);

  it('release should refuse the address of a running container, and free a leaked one', async () => {
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      plugin.driverName,
      '--ipam-opt',
      'network=kontena',
      '--subnet',
      '10.82.0.0/24',
      'kontena',
    ]);
    await host.docker([
      'run',
      '-d',
      '--name',
      'web',
      '--net',
      'kontena',
      BUSYBOX_IMAGE,
      'sleep',
      '600',
    ]);
    const ip = (
      await host.docker(['inspect', '-f', '{{.NetworkSettings.Networks.kontena.IPAddress}}', 'web'])
    ).stdout.trim();
    expect(ip).toMatch(/^10\.82\.0\.\d+$/);

    const refused = await ctl(['release', 'kontena', ip]);
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 1, stdout: '' });
    expect(refused.stderr).toContain(
      `kontena-ipam-ctl release: ${ip} is in use on this host by container web on network kontena; nothing was released`,
    );
    expect(await raw.keys('addresses/kontena/')).toContain(`addresses/kontena/${ip}`);

    const lookup = await ctl(['show', '--ip', ip, '--json']);
    expect(lookup.code).toBe(0);
    expect(JSON.parse(lookup.stdout)).toMatchObject({
      state: 'allocated',
      pool: { id: 'kontena', subnet: '10.82.0.0/24' },
      node: NODE,
      docker: {
        answered: true,
        uses: [{ network: 'kontena', what: 'container', container: 'web' }],
      },
    });

    // An address allocated straight through the socket: Docker knows nothing of it.
    const leaked = await pluginCall(plugin.socketPath, 'IpamDriver.RequestAddress', {
      PoolID: 'kontena',
      Address: '10.82.0.200',
      // a container's --ip, as dockerd sends it to a plugin that asks for MACs
      Options: { 'com.docker.network.endpoint.macaddress': '02:42:0a:52:00:c8' },
    });
    expect(leaked.status).toBe(200);
    const freed = await ctl(['release', 'kontena', '10.82.0.200']);
    expect({ code: freed.code, stdout: freed.stdout }).toEqual({
      code: 0,
      stdout: `released 10.82.0.200 of pool kontena (held by node ${NODE})\n`,
    });
    expect(await raw.keys('addresses/kontena/')).not.toContain('addresses/kontena/10.82.0.200');

    const gateway = await ctl(['release', 'kontena', '10.82.0.1', '--force']);
    expect(gateway.code).toBe(1);
    expect(gateway.stderr).toContain('10.82.0.1 is the gateway of pool kontena');

    const check = await ctl(['check']);
    expect({ code: check.code, stderr: check.stderr }).toMatchObject({ code: 0 });
    expect(check.stdout).toMatch(/\(consistent\)\n$/);
  });

  it('should exit 2 on bad usage or configuration and 3 when etcd does not answer', async () => {
    const [port] = await freePorts(1);
    const cases: [string[], Record<string, string>, number][] = [
      [['show', '--bogus'], {}, 2],
      [['nope'], {}, 2],
      [['release', 'kontena'], {}, 2],
      [['show'], { LOG_LEVEL: 'loud' }, 2],
      [['show', '--help'], {}, 0],
      [['show'], { ETCD_ENDPOINT: `http://127.0.0.1:${port}`, ETCD_WAIT_TIMEOUT: '1' }, 3],
      [['check'], { ETCD_ENDPOINT: `http://127.0.0.1:${port}`, ETCD_WAIT_TIMEOUT: '1' }, 3],
    ];
    for (const [args, extra, code] of cases) {
      const res = await ctl(args, extra);
      expect({ args, code: res.code }).toEqual({ args, code });
    }
  });
});
