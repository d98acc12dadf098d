// The shipped packaging, for real: docker/Dockerfile's multi-stage build (npm ci and the build
// inside the build stage, on a Node base image made from this machine's own node, since no
// registry is reachable), the image run as a container that serves a dockerd, and the same image
// turned into a managed plugin by docker/build-plugin.sh, enabled, used, disabled and removed.
//
// The engine runs in the host's network namespace (not in a netns of its own): the plugin uses
// the host network, as in production, and must reach the run's etcd on 127.0.0.1; an engine in
// a netns would have a loopback of its own. Its bridges are host links, removed by the fixture;
// the dynamic pools come from a supernet of their own, away from the other tests' addresses.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { httpGet } from '../e2e/plugin-process.js';
import { RawEtcd } from '../int/harness.js';
import {
  ensureBusyboxImage,
  registerPluginSpec,
  startDockerd,
  BUSYBOX_IMAGE,
  type DockerHost,
} from '../support/dockerd.js';
import { freePorts } from '../support/etcd.js';
import { uniquePrefix } from '../support/prefix.js';
import { run, waitFor } from '../support/proc.js';
import { ensureNodeBaseImage, type NodeBaseImage } from './node-base-image.js';

const ROOT = resolve(import.meta.dirname, '../..');
const endpoints = inject('etcdEndpoints');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};
/** Top-level packages that only the build and the tests need (typescript, vitest, …). */
const DEV_ONLY = Object.entries(lock.packages)
  .filter(([path, info]) => info.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path))
  .map(([path]) => path.slice('node_modules/'.length));

// build-plugin.sh's defaults: the image kontena-ipam:latest becomes the plugin kontena-ipam.
const IMAGE = 'kontena-ipam:latest';
const PLUGIN = 'kontena-ipam';
// Named by the Node inside: after a Node upgrade on this machine the base is imported afresh.
const BASE_IMAGE = `ipam-test-node:${process.versions.node}`;
const SUPERNET = '10.231.0.0/16';
const SUPERNET_SUBNET = /^10\.231\.\d+\.0\/24$/;
const BUILD_TIMEOUT_MS = 480_000;

const rand = (): string => randomBytes(3).toString('hex');
/** `ip` lies in `subnet`, a /24 (SUPERNET_SUBNET). */
const inSubnet = (ip: string, subnet: string): boolean =>
  ip.split('.').slice(0, 3).join('.') === subnet.split('.').slice(0, 3).join('.');

async function imageSize(host: DockerHost, image: string): Promise<number> {
  const res = await host.docker(['image', 'inspect', '--format', '{{.Size}}', image]);
  return Number(res.stdout.trim());
}

async function networkSubnet(host: DockerHost, network: string): Promise<Record<string, string>> {
  const res = await host.docker(['network', 'inspect', '--format', '{{json .IPAM}}', network]);
  const ipam = JSON.parse(res.stdout) as { Config: Record<string, string>[] };
  expect(ipam.Config).toHaveLength(1);
  return ipam.Config[0]!;
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

interface PluginInspect {
  Id: string;
  Name: string;
  Enabled: boolean;
  Config: { Interface: { Types: string[]; Socket: string }; Network: { Type: string } };
  Settings: { Env: string[]; Mounts: { Source: string; Destination: string }[] };
}

/** The pid of the plugin's node process: the one in the cgroup named after the plugin id. */
function managedPluginPid(pluginId: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const cgroup = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cgroup.includes(pluginId) && cmdline.includes('dist/apps/ipam/src/main.js')) {
        return Number(entry);
      }
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

describe('packaging: the image, the container and the managed plugin', () => {
  let host: DockerHost;
  let raw: RawEtcd;
  let prefix: string;
  let base: NodeBaseImage;
  /** Containers and networks to remove before the plugin serving them goes away. */
  const containers: string[] = [];
  const networks: string[] = [];
  /** Plugin containers: removed after the networks they serve. */
  const pluginContainers: string[] = [];
  let unregister: (() => Promise<void>) | undefined;

  async function removeWorkloads(): Promise<void> {
    if (containers.length > 0) {
      await host.docker(['rm', '-f', ...containers.splice(0)], { allowFail: true });
    }
    if (networks.length > 0) {
      await host.docker(['network', 'rm', ...networks.splice(0)], {
        allowFail: true,
        timeoutMs: 30_000,
      });
    }
  }

  beforeAll(async () => {
    prefix = uniquePrefix('packaging');
    raw = new RawEtcd(endpoints, prefix);
    host = await startDockerd({ name: 'pkg' });
    let started = Date.now();
    [base] = await Promise.all([ensureNodeBaseImage(host, BASE_IMAGE), ensureBusyboxImage(host)]);
    console.log(`base images: ${Math.round((Date.now() - started) / 1000)} s`);
    started = Date.now();
    await host.docker(
      [
        'build',
        '--force-rm',
        '--network',
        'host',
        '-f',
        join(ROOT, 'docker/Dockerfile'),
        '--build-arg',
        `NODE_IMAGE=${base.name}`,
        ...(base.extraCaCerts ? ['--build-arg', `NODE_EXTRA_CA_CERTS=${base.extraCaCerts}`] : []),
        '-t',
        IMAGE,
        ROOT,
      ],
      { timeoutMs: BUILD_TIMEOUT_MS },
    );
    console.log(`docker build (multi-stage, vfs): ${Math.round((Date.now() - started) / 1000)} s`);
  }, BUILD_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    if (host) {
      await removeWorkloads();
      if (pluginContainers.length > 0) {
        await host.docker(['rm', '-f', ...pluginContainers.splice(0)], { allowFail: true });
      }
      await host.stop();
    }
    await unregister?.();
    await raw?.client.delete().prefix(`${prefix}/`);
    raw?.close();
  }, 180_000);

  it('should build a slim image that runs the plugin by default, with only production dependencies', async () => {
    const baseSize = await imageSize(host, base.name);
    const size = await imageSize(host, IMAGE);
    console.log(
      `image sizes: base ${(baseSize / 1e6).toFixed(0)} MB, kontena-ipam ${(size / 1e6).toFixed(0)} MB ` +
        `(+${((size - baseSize) / 1e6).toFixed(0)} MB)`,
    );
    // package.json, the production node_modules, dist and bin: one layer over the base image.
    expect(size - baseSize).toBeLessThan(100e6);

    const config = JSON.parse(
      (await host.docker(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])).stdout,
    ) as { Cmd: string[]; WorkingDir: string; Healthcheck: { Test: string[] } };
    expect(config.Cmd).toEqual(['/app/bin/kontena-ipam']);
    expect(config.WorkingDir).toBe('/app');
    expect(config.Healthcheck.Test).toEqual(['CMD', 'node', '/app/docker/healthcheck.mjs']);

    // One container for every look inside (each one costs a full copy of the image on vfs).
    const cleanup = existsSync(join(ROOT, 'bin/kontena-ipam-cleanup'));
    const script = [
      'set -e',
      'ls -A /app',
      'echo "version $(kontena-ipam --version)"',
      'test -f dist/apps/ipam/src/main.js',
      ...DEV_ONLY.map((d) => `test ! -e "node_modules/${d}" || echo "dev dependency ${d}"`),
      'test -e node_modules/etcd3 || echo "missing etcd3"',
      'test ! -e /src || echo "build leftovers in /src"',
      'echo "help: $(kontena-ipam --help | tail -n 1)"',
      ...(cleanup ? ['bin/kontena-ipam-cleanup --help >/dev/null && echo "cleanup help ok"'] : []),
    ].join('\n');
    const res = await host.docker(['run', '--rm', '--net', 'none', IMAGE, 'sh', '-c', script], {
      timeoutMs: 120_000,
    });
    const lines = res.stdout.trim().split('\n');
    expect(lines.slice(0, 9).sort()).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'bin',
      'dist',
      'docker',
      'docs',
      'node_modules',
      'package.json',
    ]);
    // --help points at the README and docs/ the image holds (issue #19).
    expect(lines).toContain('help: See /app/README.md and /app/docs/ for details.');
    expect(lines).toContain(`version ${pkg.version}`);
    expect(lines.filter((l) => /^(dev dependency|missing|build leftovers)/.test(l))).toEqual([]);
    expect(lines.includes('cleanup help ok')).toBe(cleanup);
  });

  /** Runs a busybox container on `network`; returns its address there. */
  async function runOn(network: string): Promise<{ name: string; ip: string }> {
    const name = `c-${rand()}`;
    containers.push(name);
    await host.docker(
      ['run', '-d', '--name', name, '--net', network, BUSYBOX_IMAGE, 'sleep', '600'],
      {
        timeoutMs: 120_000,
      },
    );
    return { name, ip: await containerIp(host, name, network) };
  }

  async function createNetwork(driver: string): Promise<{ network: string; subnet: string }> {
    const network = `pkg-${rand()}`;
    networks.push(network);
    await host.docker([
      'network',
      'create',
      '--ipam-driver',
      driver,
      '--ipam-opt',
      `network=${network}`,
      network,
    ]);
    const { Subnet: subnet = '' } = await networkSubnet(host, network);
    expect(subnet).toMatch(SUPERNET_SUBNET);
    return { network, subnet };
  }

  it('should serve docker network create and docker run --net as a container on the host network, and keep its state across an upgrade', async () => {
    const driver = `kipam-${rand()}`;
    const pluginDir = join(host.dir, 'plugins');
    await mkdir(pluginDir);
    const socket = join(pluginDir, `${driver}.sock`);
    const [healthPort] = await freePorts(1);
    unregister = registerPluginSpec(driver, socket);

    /** `docker run` of the README, plus the test's etcd, prefix, ports and supernet. */
    const startPluginContainer = async (): Promise<string> => {
      const name = `ipam-${rand()}`;
      pluginContainers.push(name);
      await host.docker(
        [
          'run',
          '-d',
          '--name',
          name,
          '--network',
          'host',
          '-v',
          `${pluginDir}:/run/docker/plugins`,
          '--health-interval',
          '2s',
          '-e',
          'NODE_ID=pkg-container',
          '-e',
          `ETCD_ENDPOINT=${endpoints.join(',')}`,
          '-e',
          `ETCD_PREFIX=${prefix}`,
          '-e',
          `KONTENA_IPAM_SOCKET=/run/docker/plugins/${driver}.sock`,
          '-e',
          `KONTENA_IPAM_HEALTH_LISTEN=127.0.0.1:${healthPort}`,
          '-e',
          `KONTENA_IPAM_SUPERNET=${SUPERNET}`,
          IMAGE,
        ],
        { timeoutMs: 120_000 },
      );
      // The image's HEALTHCHECK: node fetches /healthz on KONTENA_IPAM_HEALTH_LISTEN.
      await waitFor(
        'the plugin container to be healthy',
        90_000,
        async () => {
          const status = (
            await host.docker(['inspect', '-f', '{{.State.Status}} {{.State.Health.Status}}', name])
          ).stdout.trim();
          if (status.startsWith('exited')) {
            const logs = await host.docker(['logs', name], { allowFail: true });
            throw new Error(`the plugin container exited:\n${logs.stdout}${logs.stderr}`);
          }
          return status === 'running healthy' ? true : undefined;
        },
        500,
      );
      expect(existsSync(socket)).toBe(true);
      expect((await httpGet(`http://127.0.0.1:${healthPort}/readyz`)).status).toBe(200);
      return name;
    };

    /** docker stop: SIGTERM to the plugin (pid 1), which removes its socket and exits 0. */
    const stopPluginContainer = async (name: string): Promise<void> => {
      await host.docker(['stop', '-t', '20', name], { timeoutMs: 60_000 });
      expect(
        (await host.docker(['inspect', '-f', '{{.State.ExitCode}}', name])).stdout.trim(),
      ).toBe('0');
      expect(existsSync(socket)).toBe(false);
      const logs = await host.docker(['logs', name]);
      expect(`${logs.stdout}${logs.stderr}`).toContain('plugin socket closed');
      await host.docker(['rm', name]);
      pluginContainers.splice(pluginContainers.indexOf(name), 1);
    };

    const first = await startPluginContainer();
    const { network, subnet } = await createNetwork(driver);
    const c1 = await runOn(network);
    expect(inSubnet(c1.ip, subnet)).toBe(true);
    expect((await raw.dump())[`addresses/${network}/${c1.ip}`]).toMatchObject({
      node: 'pkg-container',
      type: 'endpoint',
    });

    // The upgrade of the README: stop and remove the container, run the (new) image again.
    // The state is in etcd: the network keeps working and c1 keeps its address.
    await stopPluginContainer(first);
    const second = await startPluginContainer();
    const c2 = await runOn(network);
    expect(inSubnet(c2.ip, subnet)).toBe(true);
    expect(c2.ip).not.toBe(c1.ip);
    const stored = await raw.dump();
    expect(stored[`addresses/${network}/${c1.ip}`]).toMatchObject({ node: 'pkg-container' });
    expect(stored[`addresses/${network}/${c2.ip}`]).toMatchObject({ node: 'pkg-container' });

    await removeWorkloads();
    expect(Object.keys(await raw.dump()).filter((k) => k.includes(network))).toEqual([]);
    await stopPluginContainer(second);
    await unregister();
    unregister = undefined;
  }, 360_000);

  it('should become a managed plugin that is enabled, serves a network and a container, survives an upgrade, and is disabled and removed', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: join(host.dir, 'cli') };
    delete env.DOCKER_HOST;
    delete env.DOCKER_CONTEXT;
    // The work directory (the exported rootfs) goes into the fixture's directory.
    env.TMPDIR = host.dir;
    const buildPlugin = async (args: string[]): Promise<PluginInspect> => {
      const started = Date.now();
      await run(join(ROOT, 'docker/build-plugin.sh'), ['-H', host.host, ...args], {
        env,
        timeoutMs: 300_000,
      });
      console.log(
        `build-plugin.sh ${args.join(' ') || '(defaults)'}: ${Math.round((Date.now() - started) / 1000)} s`,
      );
      expect(readdirSync(host.dir).filter((e) => e.startsWith('kontena-ipam-plugin.'))).toEqual([]);
      const [plugin] = JSON.parse((await host.docker(['plugin', 'inspect', PLUGIN])).stdout) as [
        PluginInspect,
      ];
      expect(plugin).toMatchObject({ Name: `${PLUGIN}:latest`, Enabled: false });
      return plugin;
    };

    // NODE_ID stays unset: the plugin has the host's name (and network).
    const [healthPort] = await freePorts(1);
    const enable = async (plugin: PluginInspect): Promise<void> => {
      await host.docker([
        'plugin',
        'set',
        PLUGIN,
        `ETCD_ENDPOINT=${endpoints.join(',')}`,
        `ETCD_PREFIX=${prefix}`,
        `KONTENA_IPAM_HEALTH_LISTEN=127.0.0.1:${healthPort}`,
        `KONTENA_IPAM_SUPERNET=${SUPERNET}`,
        'LOG_LEVEL=debug',
      ]);
      await host.docker(['plugin', 'enable', '--timeout', '60', PLUGIN], { timeoutMs: 90_000 });
      expect(existsSync(`/run/docker/plugins/${plugin.Id}/kontena-ipam.sock`)).toBe(true);
      await waitFor(
        'the managed plugin to be ready',
        30_000,
        async () => {
          const res = await httpGet(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined);
          return res?.status === 200 ? true : undefined;
        },
        250,
      );
    };

    // docker/plugin/config.json as it is.
    const first = await buildPlugin([]);
    expect(first.Config.Interface).toMatchObject({
      Types: ['docker.ipamdriver/1.0'],
      Socket: 'kontena-ipam.sock',
    });
    expect(first.Config.Network.Type).toBe('host');
    expect(first.Settings.Env).toEqual(
      expect.arrayContaining([
        'ETCD_ENDPOINT=http://localhost:2379',
        'ETCD_PREFIX=/kontena/ipam',
        'KONTENA_IPAM_SUPERNET=10.80.0.0/12',
        'KONTENA_IPAM_HEALTH_LISTEN=127.0.0.1:2275',
        'KONTENA_IPAM_SOCKET=/run/docker/plugins/kontena-ipam.sock',
      ]),
    );
    expect(first.Settings.Mounts).toEqual([]);
    await enable(first);

    // Docker registers a managed IPAM driver under its full name, tag included.
    const driver = `${PLUGIN}:latest`;
    const { network, subnet } = await createNetwork(driver);
    const c1 = await runOn(network);
    expect(inSubnet(c1.ip, subnet)).toBe(true);
    expect((await raw.dump())[`addresses/${network}/${c1.ip}`]).toMatchObject({
      node: hostname(),
      type: 'endpoint',
    });

    // The upgrade of the README while the network and c1 exist: disable, remove, create the
    // plugin again under the same name (here with --tls-dir), set, enable.
    // Docker counts the networks on the plugin: disable needs -f while one exists.
    const disable = await host.docker(['plugin', 'disable', PLUGIN], { allowFail: true });
    expect(disable.code).not.toBe(0);
    expect(disable.stderr).toContain('is in use');
    await host.docker(['plugin', 'disable', '-f', PLUGIN]);
    await host.docker(['plugin', 'rm', '-f', PLUGIN]);
    const tlsDir = join(host.dir, 'tls');
    await mkdir(tlsDir);
    await writeFile(join(tlsDir, 'marker'), 'tls dir of the test\n');
    const second = await buildPlugin(['--tls-dir', tlsDir]);
    expect(second.Settings.Mounts).toEqual([
      expect.objectContaining({ Source: tlsDir, Destination: '/etc/kontena-ipam' }),
    ]);
    await enable(second);
    const pid = managedPluginPid(second.Id);
    expect(pid).toBeDefined();
    expect(readFileSync(`/proc/${pid}/root/etc/kontena-ipam/marker`, 'utf8')).toBe(
      'tls dir of the test\n',
    );
    const c2 = await runOn(network);
    expect(inSubnet(c2.ip, subnet)).toBe(true);
    expect(c2.ip).not.toBe(c1.ip);
    const stored = await raw.dump();
    expect(stored[`addresses/${network}/${c1.ip}`]).toMatchObject({ node: hostname() });
    expect(stored[`addresses/${network}/${c2.ip}`]).toMatchObject({ node: hostname() });

    await removeWorkloads();
    expect(Object.keys(await raw.dump()).filter((k) => k.includes(network))).toEqual([]);

    // Disable: SIGTERM; the plugin closes its socket and exits well before dockerd's 10 s kill.
    const disabling = Date.now();
    await host.docker(['plugin', 'disable', PLUGIN], { timeoutMs: 60_000 });
    expect(Date.now() - disabling).toBeLessThan(9_000);
    const log = readFileSync(host.logFile, 'utf8');
    expect(
      log.split('\n').some((l) => l.includes(second.Id) && l.includes('plugin socket closed')),
    ).toBe(true);
    expect(managedPluginPid(second.Id)).toBeUndefined();
    await host.docker(['plugin', 'rm', PLUGIN]);
    expect((await host.docker(['plugin', 'ls', '-q'])).stdout.trim()).toBe('');
    expect(existsSync(`/run/docker/plugins/${second.Id}`)).toBe(false);
  }, 480_000);
});
