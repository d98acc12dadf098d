import { describe, expect, inject, it } from 'vitest';

import { repairCommand } from '../../apps/ctl/src/repair/repair.command.js';
import type { PluginProcess } from '../e2e/plugin-process.js';
import { RawEtcd, withoutNonces } from '../int/harness.js';
import { dockerWithPluginEachTest } from '../support/docker-fixture.js';
import { BUSYBOX_IMAGE, type DockerHost } from '../support/dockerd.js';
import { capture } from './capture.js';

const endpoints = inject('etcdEndpoints');
const NODE = 'docker-1';

/**
 * `kontena-ipam-ctl repair` (issue #19) against a real dockerd using the built plugin: etcd
 * loses what the plugin wrote for this host (as a snapshot restore from before the network
 * would), repair registers it again from what dockerd shows, and dockerd's own releases then
 * find it: the container and the network go as if nothing had happened.
 */
describe('kontena-ipam-ctl repair with a real dockerd', () => {
  let host: DockerHost;
  let plugin: PluginProcess;
  let raw: RawEtcd;
  let prefix: string;

  dockerWithPluginEachTest(
    { endpoints, nodeId: NODE, label: 'repair-e2e', name: 'repair' },
    (f) => {
      ({ host, plugin, raw, prefix } = f);
    },
  );

  it('should register a network and its container again after etcd lost them', async () => {
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      plugin.driverName,
      '--ipam-opt',
      'network=repaired',
      '--subnet',
      '10.84.0.0/24',
      '--ip-range',
      '10.84.0.128/25',
      '--aux-address',
      'printer=10.84.0.20',
      'repaired',
    ]);
    await host.docker([
      'run',
      '-d',
      '--name',
      'c1',
      '--net',
      'repaired',
      BUSYBOX_IMAGE,
      'sleep',
      '300',
    ]);
    const before = withoutNonces(await raw.state());
    expect(Object.keys(before)).toContain('pool-nodes/repaired/docker-1');
    await raw.client.delete().prefix(`${prefix}/`); // the restore

    const c = capture({
      NODE_ID: NODE,
      ETCD_ENDPOINT: endpoints.join(','),
      ETCD_PREFIX: prefix,
      DOCKER_HOST: host.host,
      KONTENA_IPAM_SOCKET: plugin.socketPath,
    });
    expect(await repairCommand.run(['--dry-run'], c.io)).toBe(0);
    expect(await raw.state()).toEqual({});
    c.clear();

    expect(await repairCommand.run([], c.io)).toBe(0);
    expect(c.errors).toEqual([]);
    expect(c.lines[0]).toBe(
      'pool repaired 10.84.0.0/24 (repaired): created; membership created; addresses 2 new, 0 present',
    );
    // Pool, subnet, gateway, membership, the container's address (with its name on Engine 29)
    // and the aux address, as the plugin had written them.
    const after = withoutNonces(await raw.state());
    const container = Object.keys(before).find(
      (k) =>
        k.startsWith('addresses/repaired/10.84.0.') &&
        k !== 'addresses/repaired/10.84.0.1' &&
        k !== 'addresses/repaired/10.84.0.20',
    )!;
    expect(after[container]).toMatchObject({ node: NODE, type: 'endpoint' });
    const { name: _name, ...containerBefore } = before[container] as Record<string, unknown>;
    const { name: _name2, ...containerAfter } = after[container] as Record<string, unknown>;
    expect(containerAfter).toEqual(containerBefore);
    for (const key of Object.keys(before).filter((k) => k !== container)) {
      expect({ key, value: after[key] }).toEqual({ key, value: before[key] });
    }

    // dockerd releases what repair registered: the container's address, then the pool.
    await host.docker(['rm', '-f', 'c1']);
    expect(await raw.keys('addresses/repaired/')).not.toContain(container);
    await host.docker(['network', 'rm', 'repaired']);
    expect(await raw.state()).toEqual({});
  });
});
