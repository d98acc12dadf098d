import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Addr, Prefix } from '#app/net';
import { RawEtcd } from '../int/harness.js';
import { BUSYBOX_IMAGE, type DockerHost } from '../support/dockerd.js';
import { startDockerWithPlugin, type DockerPlugin } from '../support/docker-fixture.js';

const endpoints = inject('etcdEndpoints');

interface Endpoint {
  IPAddress: string;
  GlobalIPv6Address: string;
  Gateway: string;
  IPv6Gateway: string;
}

async function endpointOf(host: DockerHost, container: string, network: string): Promise<Endpoint> {
  const res = await host.docker([
    'inspect',
    '-f',
    `{{json (index .NetworkSettings.Networks "${network}")}}`,
    container,
  ]);
  return JSON.parse(res.stdout) as Endpoint;
}

/**
 * IPv6 and dual-stack networks through a real dockerd (20.10, `--ip6tables=false`): dynamic and
 * static subnets of both families, `--ip6`, and `docker network rm` freeing both pools.
 */
describe('IPv6 through a real dockerd', () => {
  let fixture: DockerPlugin;
  let host: DockerHost;
  let raw: RawEtcd;
  let driver: string;

  beforeAll(async () => {
    // A driver name of its own: dockerd finds a socket in /run/docker/plugins before a spec file,
    // so `kontena-ipam` could reach a plugin installed on this host (the README's example was
    // made with driverName 'kontena-ipam' on a host without one).
    fixture = await startDockerWithPlugin({
      endpoints,
      nodeId: 'docker-v6',
      label: 'docker-v6',
      name: 'v6',
    });
    ({ host, raw, driver } = fixture);
  });

  afterAll(() => fixture?.stop());

  it('should create a dynamic dual-stack network and give containers both addresses', async () => {
    await host.docker([
      'network',
      'create',
      '--ipv6',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=dual',
      'dual',
    ]);
    const inspect = await host.docker(['network', 'inspect', 'dual']);
    // The README's dual-stack example shows this output (and the endpoint's below).
    console.log(inspect.stdout);
    const [net] = JSON.parse(inspect.stdout) as {
      EnableIPv6: boolean;
      IPAM: { Config: { Subnet: string; Gateway?: string }[] };
    }[];
    expect(net!.EnableIPv6).toBe(true);
    const state = await raw.dump();
    const v4 = (state['pools/dual'] as { subnet: string }).subnet;
    const v6 = (state['pools/dual:v6'] as { subnet: string; gateway: string }).subnet;
    expect(v4).toBe('10.80.0.0/24');
    expect(Prefix.parse(v6).length).toBe(64);
    const supernet = (state.supernet6 as { supernet: string }).supernet;
    expect(Prefix.parse(supernet).containsPrefix(Prefix.parse(v6))).toBe(true);
    expect(net!.IPAM.Config.map((c) => c.Subnet).sort()).toEqual([v4, v6].sort());

    await host.docker([
      'run',
      '-d',
      '--name',
      'd1',
      '--net',
      'dual',
      BUSYBOX_IMAGE,
      'sleep',
      '300',
    ]);
    const ep = await endpointOf(host, 'd1', 'dual');
    console.log(JSON.stringify(ep, null, 2));
    expect(Prefix.parse(v4).contains(Addr.parse(ep.IPAddress))).toBe(true);
    expect(Prefix.parse(v6).contains(Addr.parse(ep.GlobalIPv6Address))).toBe(true);
    expect(ep.IPv6Gateway).toBe(Prefix.parse(v6).network().add(1n)!.toString());
    expect(Object.keys(await raw.dump())).toContain(`addresses/dual:v6/${ep.GlobalIPv6Address}`);
    // The container sees its address on its interface.
    const addr = await host.docker(['exec', 'd1', 'ip', '-6', 'addr', 'show', 'eth0']);
    expect(addr.stdout).toContain(ep.GlobalIPv6Address);

    await host.docker(['rm', '-f', 'd1']);
    await host.docker(['network', 'rm', 'dual']);
    expect((await raw.keys()).filter((k) => !k.startsWith('nodes/'))).toEqual(['supernet6']);
  });

  it('should create a static dual-stack network, honour --ip6, refuse a duplicate, and free both on rm', async () => {
    await host.docker([
      'network',
      'create',
      '--ipv6',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      'network=static6',
      '--subnet',
      '10.77.0.0/24',
      '--subnet',
      'fd00:1::/64',
      'static6',
    ]);
    await host.docker([
      'run',
      '-d',
      '--name',
      's1',
      '--net',
      'static6',
      '--ip6',
      'fd00:1::77',
      BUSYBOX_IMAGE,
      'sleep',
      '300',
    ]);
    const ep = await endpointOf(host, 's1', 'static6');
    expect(ep.GlobalIPv6Address).toBe('fd00:1::77');
    expect(ep.IPv6Gateway).toBe('fd00:1::1');
    expect(ep.IPAddress).toMatch(/^10\.77\.0\.\d+$/);
    const dup = await host.docker(
      [
        'run',
        '-d',
        '--name',
        's2',
        '--net',
        'static6',
        '--ip6',
        'fd00:1::77',
        BUSYBOX_IMAGE,
        'sleep',
        '300',
      ],
      { allowFail: true },
    );
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain(
      'IpamDriver.RequestAddress: address fd00:1::77 is already allocated in pool static6:v6',
    );
    await host.docker(['rm', '-f', 's1', 's2'], { allowFail: true });
    await host.docker(['network', 'rm', 'static6']);
    expect((await raw.keys()).filter((k) => k.includes('static6'))).toEqual([]);
  });

  it('should refuse an IPv6 subnet in link-local space with the plugin message', async () => {
    const res = await host.docker(
      ['network', 'create', '--ipv6', '--ipam-driver', driver, '--subnet', 'fe80::/64', 'bad6'],
      { allowFail: true },
    );
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('overlaps fe80::/10, link-local (RFC 4291)');
    // dockerd rolled back the IPv4 pool it had asked for first.
    expect((await raw.keys('pools/')).length).toBe(0);
  });
});
