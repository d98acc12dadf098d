// Proves the shared plugin fixture (test/support/docker-fixture.ts): a dockerd finds the plugin as
// its IPAM driver, stop() removes the engine (or, of a caller's engine, only its containers and
// networks), the spec file, the plugin and the prefix's keys, and a failed start leaves nothing.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, inject, it } from 'vitest';

import { RawEtcd } from '../int/harness.js';
import { startDockerWithPlugin, type DockerPlugin } from '../support/docker-fixture.js';
import { PLUGIN_SPEC_DIR, startDockerd } from '../support/dockerd.js';
import { pidAlive } from '../support/proc.js';

const endpoints = inject('etcdEndpoints');

const specFiles = (): string[] => (existsSync(PLUGIN_SPEC_DIR) ? readdirSync(PLUGIN_SPEC_DIR) : []);

/** The keys under `prefix`, read with a client of its own (the fixture's is closed). */
async function keysUnder(prefix: string): Promise<string[]> {
  const raw = new RawEtcd(endpoints, prefix);
  try {
    return await raw.keys();
  } finally {
    raw.close();
  }
}

/** A network of the fixture's driver on its engine, and the pool it left in etcd. */
async function createNetwork(f: DockerPlugin, name: string): Promise<void> {
  await f.host.docker([
    'network',
    'create',
    '--ipam-driver',
    f.driver,
    '--ipam-opt',
    `network=${name}`,
    name,
  ]);
  expect(await f.raw.keys('pools/')).toEqual([`pools/${name}`]);
}

describe('the plugin fixture', () => {
  it('starts a dockerd that uses the plugin, and stop() removes the engine, spec file, plugin and keys', async () => {
    const f = await startDockerWithPlugin({
      endpoints,
      nodeId: 'fx-1',
      label: 'fixture-selftest',
      name: 'fx',
      busybox: false,
    });
    const spec = join(PLUGIN_SPEC_DIR, `${f.driver}.spec`);
    try {
      expect(existsSync(spec)).toBe(true);
      await createNetwork(f, 'fx');
    } finally {
      await f.stop();
    }
    expect(existsSync(spec)).toBe(false);
    expect(pidAlive(f.host.pid)).toBe(false);
    expect(f.plugin.child.exitCode ?? f.plugin.child.signalCode).not.toBeNull();
    expect(await keysUnder(f.prefix)).toEqual([]);
    await f.stop(); // a second stop() is the first one's
  });

  it("on a caller's engine, stop() removes only its networks and leaves the engine running", async () => {
    const host = await startDockerd({ netns: true, name: 'fx-own' });
    try {
      const f = await startDockerWithPlugin({
        endpoints,
        nodeId: 'fx-2',
        label: 'fixture-selftest',
        host,
      });
      try {
        await createNetwork(f, 'fx2');
      } finally {
        await f.stop();
      }
      const networks = await host.docker(['network', 'ls', '--format', '{{.Name}}']);
      expect(networks.stdout).not.toContain('fx2');
      expect(existsSync(join(PLUGIN_SPEC_DIR, `${f.driver}.spec`))).toBe(false);
      expect(await keysUnder(f.prefix)).toEqual([]);
      expect((await host.docker(['version'])).code).toBe(0);
    } finally {
      await host.stop();
    }
  });

  it('rejects, and leaves no spec file, when the plugin does not start', async () => {
    const before = specFiles();
    await expect(
      startDockerWithPlugin({
        endpoints,
        nodeId: 'fx-3',
        label: 'fixture-selftest',
        name: 'fx-bad',
        env: { KONTENA_IPAM_SUPERNET: 'nonsense' },
      }),
    ).rejects.toThrow(/did not create/);
    expect(specFiles()).toEqual(before);
  });
});
