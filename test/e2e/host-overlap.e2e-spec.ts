import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Addr, Prefix } from '#app/net';
import { RawEtcd, startNode, type IpamNode } from '../int/harness.js';
import { registerPluginSpec, startDockerd, type DockerHost } from '../support/dockerd.js';
import { uniquePrefix } from '../support/prefix.js';
import { bridgeIntoNetns, type NetnsBridge } from './netns-bridge.js';
import { startPlugin, type PluginProcess } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');

/** The route this host's dockerd (and plugin) see: an address on a veth inside their netns. */
const ROUTE = '10.80.0.0/23';

/** The first IPv4 nameserver of this machine's resolv.conf, which dockerd checks pools against. */
function hostNameserver(): string | undefined {
  try {
    const line = readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .map((l) => /^\s*nameserver\s+(\S+)\s*$/.exec(l.split('#')[0] ?? '')?.[1])
      .find((ip) => ip !== undefined && Addr.tryParse(ip)?.family === 4);
    return line;
  } catch {
    return undefined;
  }
}

/**
 * A shared pool that another node created, joined on a host where dockerd refuses it: it
 * overlaps an on-link route or a nameserver of that host. dockerd 20.10 holds such a pool and
 * asks again, for ever, for a local network created without --subnet (issue #15, item 6: 6,556
 * references in 20 s). The plugin must refuse it at once and take no reference.
 */
describe('a shared pool that overlaps what dockerd checks on its host', () => {
  const nameserver = hostNameserver();
  let prefix: string;
  let raw: RawEtcd;
  let nodeA: IpamNode;
  let host: DockerHost;
  let bridge: NetnsBridge;
  let plugin: PluginProcess;
  let unregister: () => Promise<void>;
  let driver: string;

  beforeAll(async () => {
    prefix = uniquePrefix('host-overlap');
    raw = new RawEtcd(endpoints, prefix);
    // Node A, on a host without that route: `routed` is the supernet's first subnet.
    nodeA = await startNode({ nodeId: 'node-a', endpoints, prefix });
    const routed = await nodeA.pools.requestPool({ options: { network: 'routed' }, v6: false });
    if (routed.pool !== '10.80.0.0/24') {
      throw new Error(`routed got ${routed.pool}, not the supernet's first subnet`);
    }
    if (nameserver) {
      const subnet = Prefix.parse(`${nameserver}/24`).masked().toString();
      await nodeA.pools.requestPool({ options: { network: 'resolver' }, pool: subnet, v6: false });
    }

    host = await startDockerd({ netns: true, name: 'overlap' });
    const [address, length] = ROUTE.split('/');
    const gatewayOfRoute = `${address!.replace(/\.0$/, '.1')}/${length!}`;
    for (const args of [
      ['link', 'add', 'kipam0', 'type', 'veth', 'peer', 'name', 'kipam1'],
      ['addr', 'add', gatewayOfRoute, 'dev', 'kipam0'],
      ['link', 'set', 'kipam0', 'up'],
      ['link', 'set', 'kipam1', 'up'],
    ]) {
      await host.exec('ip', args);
    }
    const etcd = new URL(endpoints[0]!);
    bridge = await bridgeIntoNetns(host.netns!, { host: etcd.hostname, port: Number(etcd.port) });
    plugin = await startPlugin({
      netns: host.netns!,
      env: {
        NODE_ID: 'node-b',
        ETCD_ENDPOINT: `http://127.0.0.1:${bridge.port}`,
        ETCD_PREFIX: prefix,
        KONTENA_IPAM_AVOID_HOST_ROUTES: 'true',
      },
    });
    driver = plugin.driverName;
    unregister = registerPluginSpec(driver, plugin.socketPath);
  });

  afterAll(async () => {
    await host?.stop();
    await unregister?.();
    await plugin?.stop();
    await bridge?.stop();
    await nodeA?.close();
    await raw?.client.delete().prefix(`${prefix}/`);
    raw?.close();
  });

  const members = async (pool: string): Promise<string[]> =>
    (await raw.keys(`pool-nodes/${pool}/`)).map((k) => k.split('/').at(-1)!);

  /** `docker network create` of a shared pool, bounded: dockerd never times out a plugin. */
  async function createShared(name: string): Promise<{ code: number; stderr: string; ms: number }> {
    const started = Date.now();
    const res = await host
      .docker(
        ['network', 'create', '--ipam-driver', driver, '--ipam-opt', `network=${name}`, name],
        {
          allowFail: true,
          timeoutMs: 20_000,
        },
      )
      .catch((err: unknown) => ({ code: -1, stderr: String(err) }));
    return { code: res.code ?? -1, stderr: res.stderr, ms: Date.now() - started };
  }

  it('should fail docker network create at once for a pool on an on-link route, with no reference taken', async () => {
    const res = await createShared('routed');
    expect(res.stderr).toContain(
      `IpamDriver.RequestPool: pool routed (10.80.0.0/24) overlaps this host's on-link route ${ROUTE}, which dockerd refuses for a network created without --subnet`,
    );
    expect(res.code).not.toBe(0);
    expect(res.ms).toBeLessThan(10_000);
    expect(await members('routed')).toEqual(['node-a']);
  });

  it.skipIf(!nameserver)(
    'should fail docker network create at once for a pool that holds a nameserver, with no reference taken',
    async () => {
      const res = await createShared('resolver');
      expect(res.stderr).toContain(
        `IpamDriver.RequestPool: pool resolver (${Prefix.parse(`${nameserver!}/24`).masked().toString()}) overlaps the nameserver ${nameserver!} in this host's resolv.conf`,
      );
      expect(res.code).not.toBe(0);
      expect(res.ms).toBeLessThan(10_000);
      expect(await members('resolver')).toEqual(['node-a']);
    },
  );

  it('should create a new shared network on a subnet past the route', async () => {
    const res = await createShared('fresh');
    expect(res).toMatchObject({ code: 0 });
    const inspect = await host.docker(['network', 'inspect', 'fresh']);
    const [network] = JSON.parse(inspect.stdout) as { IPAM: { Config: { Subnet: string }[] } }[];
    // 10.80.0.0/24 is node A's pool, 10.80.1.0/24 is under the route: the next one.
    expect(network!.IPAM.Config[0]!.Subnet).toBe('10.80.2.0/24');
    expect(await members('fresh')).toEqual(['node-b']);
    await host.docker(['network', 'rm', 'fresh']);
  });
});
