// --aux-address on a network shared by two hosts, and a dockerd restart with live containers
// (README, "Addresses"; docs/design.md, "What dockerd sends"). Two real dockerd hosts, each in a
// network namespace of its own with its own plugin process (its own NODE_ID and driver name), one
// etcd prefix. What dockerd sends is read back from etcd: a container's record carries the MAC
// its RequestAddress carried, an --aux-address is stored as the network's aux address.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { runCleanupCli } from '../cleanup/cleanup-process.js';
import { RawEtcd } from '../int/harness.js';
import { startDockerWithPlugin, type DockerPlugin } from '../support/docker-fixture.js';
import { BUSYBOX_IMAGE, type DockerHost } from '../support/dockerd.js';
import type { PluginProcess } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');
const NET = 'auxnet';
const AUX = ['10.84.0.2', '10.84.0.3'];
/** The ip range 10.84.0.0/29 holds .1 (gateway), .2 and .3 (aux) and .4 to .7: four containers. */
const CONTAINER_IPS = ['10.84.0.4', '10.84.0.5', '10.84.0.6', '10.84.0.7'];

interface Host {
  name: string;
  node: string;
  docker: DockerHost;
  plugin: PluginProcess;
}

describe('aux addresses on two real dockerd hosts', () => {
  let prefix: string;
  let raw: RawEtcd;
  const hosts: Host[] = [];
  const fixtures: DockerPlugin[] = [];

  /** A host of its own; the second one on the first one's prefix. */
  const start = async (name: string, node: string): Promise<Host> => {
    const fixture = await startDockerWithPlugin({
      endpoints,
      nodeId: node,
      name,
      ...(fixtures[0] ? { sharedPrefix: fixtures[0].prefix } : { label: 'aux-hosts' }),
    });
    fixtures.push(fixture);
    const host = { name, node, docker: fixture.host, plugin: fixture.plugin };
    hosts.push(host);
    return host;
  };

  beforeAll(async () => {
    await start('aux1', 'docker-1');
    ({ prefix, raw } = fixtures[0]!);
    await start('aux2', 'docker-2');
  }, 180_000);

  afterAll(async () => {
    // The second host first: the first one's stop deletes the keys of the prefix they share.
    const [first, second] = fixtures;
    try {
      await second?.stop();
    } finally {
      await first?.stop();
    }
  }, 120_000);

  const createNetwork = (h: Host) =>
    h.docker.docker([
      'network',
      'create',
      '--driver',
      'bridge',
      '--ipam-driver',
      h.plugin.driverName,
      '--ipam-opt',
      `network=${NET}`,
      '--subnet',
      '10.84.0.0/24',
      '--ip-range',
      '10.84.0.0/29',
      '--aux-address',
      `a=${AUX[0]}`,
      '--aux-address',
      `b=${AUX[1]}`,
      NET,
    ]);

  const run = (h: Host, name: string, extra: string[] = []) =>
    h.docker.docker(
      ['run', '-d', '--name', name, '--net', NET, ...extra, BUSYBOX_IMAGE, 'sleep', '600'],
      { allowFail: true },
    );

  const inspect = async (h: Host, container: string): Promise<{ ip: string; mac: string }> => {
    const format = `{{(index .NetworkSettings.Networks "${NET}").IPAddress}} {{(index .NetworkSettings.Networks "${NET}").MacAddress}}`;
    const res = await h.docker.docker(['inspect', '-f', format, container]);
    const [ip = '', mac = ''] = res.stdout.trim().split(' ');
    return { ip, mac };
  };

  const addresses = async (): Promise<Record<string, Record<string, unknown>>> => {
    const state = await raw.state();
    return Object.fromEntries(
      Object.entries(state)
        .filter(([k]) => k.startsWith(`addresses/${NET}/`))
        .map(([k, v]) => [k.slice(`addresses/${NET}/`.length), v as Record<string, unknown>]),
    );
  };

  const check = async () => {
    const res = await runCleanupCli(['--check'], {
      ETCD_ENDPOINT: endpoints.join(','),
      ETCD_PREFIX: prefix,
    });
    expect({ code: res.code, stdout: res.stdout, stderr: res.stderr }).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('0 violations') as unknown,
    });
  };

  it('should create the same network with the same aux addresses on both hosts, and never give them to a container', async () => {
    const [h1, h2] = hosts as [Host, Host];
    await createNetwork(h1);
    await createNetwork(h2); // the limit this removes: "address 10.84.0.2 is already allocated"
    const held = await addresses();
    for (const ip of AUX) {
      expect(held[ip]).toMatchObject({ node: 'docker-1', type: 'aux' });
      expect(held[ip]).not.toHaveProperty('mac'); // dockerd sent "Options": null
    }

    // Two containers per host fill the range; none gets an aux address, and a fifth finds none.
    for (const [h, names] of [
      [h1, ['c1', 'c2']],
      [h2, ['c3', 'c4']],
    ] as const) {
      for (const name of names) {
        const res = await run(h, name);
        expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
      }
    }
    const seen = await Promise.all(
      (
        [
          [h1, 'c1'],
          [h1, 'c2'],
          [h2, 'c3'],
          [h2, 'c4'],
        ] as const
      ).map(async ([h, c]) => ({ h, ...(await inspect(h, c)) })),
    );
    expect(seen.map((s) => s.ip).sort()).toEqual(CONTAINER_IPS);
    const records = await addresses();
    for (const s of seen) {
      // What dockerd sent: the container's MAC with its request, a random one (not derived
      // from the IP as without RequiresMACAddress: 02:42 and the four octets of the address).
      expect(records[s.ip]).toMatchObject({ node: s.h.node, type: 'endpoint', mac: s.mac });
      const derived = `02:42:${s.ip
        .split('.')
        .map((o) => Number(o).toString(16).padStart(2, '0'))
        .join(':')}`;
      expect(s.mac).not.toBe(derived);
    }
    const fifth = await run(h2, 'c5');
    expect(fifth.code).not.toBe(0);
    expect(fifth.stderr).toContain('no addresses available in pool auxnet');
    await h2.docker.docker(['rm', '-f', 'c5'], { allowFail: true });
    // --ip of an aux address is refused on either host.
    const clash = await run(h1, 'c6', ['--ip', AUX[0]!]);
    expect(clash.stderr).toContain(`address ${AUX[0]} is already allocated in pool ${NET}`);
    await h1.docker.docker(['rm', '-f', 'c6'], { allowFail: true });
    await check();
  });

  it('should keep every network working over a dockerd restart without --live-restore, leaking nothing', async () => {
    const [, h2] = hosts as [Host, Host];
    // c4 again, with its address fixed (--ip): the restart must give it back.
    const own = (await inspect(h2, 'c4')).ip;
    await h2.docker.docker(['rm', '-f', 'c4']);
    const fixed = await run(h2, 'c4', ['--ip', own]);
    expect({ code: fixed.code, stderr: fixed.stderr }).toMatchObject({ code: 0 });
    const members = Object.fromEntries(
      Object.entries(await raw.state()).filter(([k]) => k.startsWith('pool-nodes/')),
    );
    expect(members).toEqual({
      [`pool-nodes/${NET}/docker-1`]: expect.objectContaining({ refs: 1 }) as unknown,
      [`pool-nodes/${NET}/docker-2`]: expect.objectContaining({ refs: 1 }) as unknown,
    });

    await h2.docker.restart(); // stops c3 and c4 (ReleaseAddress each), no ReleasePool
    const between = await addresses();
    expect(Object.values(between).filter((r) => r.node === 'docker-2')).toEqual([]);
    for (const c of ['c4', 'c3']) {
      const res = await h2.docker.docker(['start', c]);
      expect(res.code).toBe(0);
    }
    const c3 = await inspect(h2, 'c3');
    const c4 = await inspect(h2, 'c4');
    expect(c4.ip).toBe(own);
    expect(CONTAINER_IPS).toContain(c3.ip);
    const after = await addresses();
    expect(after[c3.ip]).toMatchObject({ node: 'docker-2', mac: c3.mac });
    expect(after[c4.ip]).toMatchObject({ node: 'docker-2', mac: c4.mac });
    // No reference counted again, no address left behind, the aux addresses still there.
    expect(
      Object.fromEntries(
        Object.entries(await raw.state()).filter(([k]) => k.startsWith('pool-nodes/')),
      ),
    ).toEqual(members);
    const [h1] = hosts as [Host];
    const running = [(await inspect(h1, 'c1')).ip, (await inspect(h1, 'c2')).ip, c3.ip, c4.ip];
    expect(Object.keys(after).sort()).toEqual(['10.84.0.1', ...AUX, ...running].sort());
    await check();
  });

  it('should keep the aux addresses for the last host when the first removes the network, and free them with the last', async () => {
    const [h1, h2] = hosts as [Host, Host];
    await h1.docker.docker(['rm', '-f', 'c1', 'c2']);
    await h1.docker.docker(['network', 'rm', NET]);
    const held = await addresses();
    for (const ip of AUX) {
      expect(held[ip]).toMatchObject({ node: 'docker-1', type: 'aux' });
    }
    // Still the network's on the second host: a container may not take one.
    const clash = await run(h2, 'c7', ['--ip', AUX[1]!]);
    expect(clash.stderr).toContain(`address ${AUX[1]} is already allocated in pool ${NET}`);
    await h2.docker.docker(['rm', '-f', 'c7'], { allowFail: true });
    await check();

    await h2.docker.docker(['rm', '-f', 'c3', 'c4']);
    await h2.docker.docker(['network', 'rm', NET]);
    expect(await raw.state()).toEqual({});
  });

  it('should take --ipam-opt subnet-length and exclude through dockerd, and name the option a typo meant', async () => {
    const [h1] = hosts as [Host];
    const create = (name: string, opts: string[]) =>
      h1.docker.docker(
        ['network', 'create', '--ipam-driver', h1.plugin.driverName, ...opts, name],
        { allowFail: true },
      );
    const typo = await create('typo', ['--ipam-opt', 'netwrok=blue']);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain(
      'IpamDriver.RequestPool: Options key "netwrok" is not an option of kontena-ipam: did you mean "network"?',
    );

    const small = await create('small', ['--ipam-opt', 'subnet-length=29']);
    expect({ code: small.code, stderr: small.stderr }).toMatchObject({ code: 0 });
    const pools = Object.values(await raw.state()).filter(
      (v): v is { subnet: string } => typeof (v as { subnet?: unknown }).subnet === 'string',
    );
    expect(pools.map((p) => p.subnet)).toContain('10.80.0.0/29');
    await h1.docker.docker(['network', 'rm', 'small']);

    // .1 gateway, .2 and .3 excluded: the only container address left is .4 (of a /29: .2-.6 hosts,
    // .5 and .6 excluded too).
    const ex = await create('ex', [
      '--subnet',
      '10.86.0.0/29',
      '--ipam-opt',
      'exclude=10.86.0.2/31,10.86.0.5/32,10.86.0.6/32',
    ]);
    expect({ code: ex.code, stderr: ex.stderr }).toMatchObject({ code: 0 });
    const c = await h1.docker.docker(
      ['run', '-d', '--name', 'x1', '--net', 'ex', BUSYBOX_IMAGE, 'sleep', '600'],
      { allowFail: true },
    );
    expect({ code: c.code, stderr: c.stderr }).toMatchObject({ code: 0 });
    const ip = await h1.docker.docker([
      'inspect',
      '-f',
      '{{(index .NetworkSettings.Networks "ex").IPAddress}}',
      'x1',
    ]);
    expect(ip.stdout.trim()).toBe('10.86.0.4');
    await h1.docker.docker(['rm', '-f', 'x1']);
    await h1.docker.docker(['network', 'rm', 'ex']);
  });
});
