// The set-up most e2e specs share: the built plugin on a fresh etcd key prefix, and, for those
// that go through Docker, a private dockerd that finds that plugin as its IPAM driver
// (README.md in this folder, "The built plugin on a prefix").
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

import { startPlugin, type PluginProcess } from '../e2e/plugin-process.js';
import { RawEtcd } from '../int/harness.js';
import {
  ensureBusyboxImage,
  registerPluginSpec,
  startDockerd,
  type DockerHost,
} from './dockerd.js';
import { uniquePrefix } from './prefix.js';

export interface PluginOnPrefixOptions {
  /** The etcd to use (`inject('etcdEndpoints')`). */
  endpoints: string[];
  /** The plugin's NODE_ID. */
  nodeId: string;
  /** The fresh prefix is `uniquePrefix(label)`. */
  label?: string;
  /** Use this prefix (another fixture's) instead of a fresh one; its owner deletes its keys. */
  sharedPrefix?: string;
  /** More plugin environment, e.g. LOG_LEVEL, or an ETCD_ENDPOINT of its own (a proxy). */
  env?: Record<string, string>;
}

export interface PluginOnPrefix {
  readonly prefix: string;
  /** A raw etcd client on `prefix`. */
  readonly raw: RawEtcd;
  readonly plugin: PluginProcess;
  /** The plugin's driver name (its socket is `plugin.socketPath`). */
  readonly driver: string;
  /** Undoes the set-up, last step first (once: a second call waits for the first). */
  stop(): Promise<void>;
}

export interface DockerPluginOptions extends PluginOnPrefixOptions {
  /** The dockerd's name (its directory, netns and cgroup names). */
  name?: string;
  /** Run the dockerd in a network namespace of its own (default true). */
  netns?: boolean;
  /** Import the busybox image into the new dockerd (default true). */
  busybox?: boolean;
  /**
   * A dockerd the caller started and stops (one engine for a file, a plugin per test): none is
   * started, and stop() only removes its containers and bridge networks before the plugin goes.
   */
  host?: DockerHost;
}

export interface DockerPlugin extends PluginOnPrefix {
  readonly host: DockerHost;
}

type Step = () => Promise<unknown> | void;

/** Runs every step, last first, even after one failed; then throws what failed. */
async function undo(steps: Step[]): Promise<void> {
  const errors: unknown[] = [];
  for (const step of steps.toReversed()) {
    try {
      await step();
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) {
    throw errors[0];
  }
  if (errors.length > 1) {
    throw new AggregateError(errors, `${errors.length} teardown steps failed`);
  }
}

async function pluginOnPrefix(opts: PluginOnPrefixOptions, steps: Step[]): Promise<PluginOnPrefix> {
  if (opts.sharedPrefix === undefined && opts.label === undefined) {
    throw new Error('a fixture needs a label for its fresh prefix, or a shared prefix');
  }
  const prefix = opts.sharedPrefix ?? uniquePrefix(opts.label!);
  const raw = new RawEtcd(opts.endpoints, prefix);
  steps.push(async () => {
    try {
      if (opts.sharedPrefix === undefined) {
        await raw.client.delete().prefix(`${prefix}/`);
      }
    } finally {
      raw.close();
    }
  });
  const plugin = await startPlugin({
    env: {
      NODE_ID: opts.nodeId,
      ETCD_ENDPOINT: opts.endpoints.join(','),
      ETCD_PREFIX: prefix,
      ...opts.env,
    },
  });
  steps.push(() => plugin.stop());
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= undo(steps));
  return { prefix, raw, plugin, driver: plugin.driverName, stop };
}

/** Starts whatever `start` pushes steps for; on a failure, undoes what had started. */
async function started<T>(start: (steps: Step[]) => Promise<T>): Promise<T> {
  const steps: Step[] = [];
  try {
    return await start(steps);
  } catch (e) {
    await undo(steps).catch(() => undefined);
    throw e;
  }
}

/**
 * The built plugin (`startPlugin`) with NODE_ID `nodeId` on a fresh etcd prefix (or a shared
 * one). stop(): stops the plugin, deletes the prefix's keys (not a shared prefix's), closes `raw`.
 */
export function startPluginOnPrefix(opts: PluginOnPrefixOptions): Promise<PluginOnPrefix> {
  return started((steps) => pluginOnPrefix(opts, steps));
}

/**
 * {@link startPluginOnPrefix}, registered (`/etc/docker/plugins/<driver>.spec`) as the IPAM
 * driver of a new private dockerd with the busybox image, or of the caller's `host`.
 *
 * stop() removes everything in this order, also what a partial start left: the dockerd with its
 * containers and networks while the plugin still answers (of a caller's `host`: only its
 * containers and bridge networks), the spec file, the plugin, the prefix's keys, `raw`.
 */
export function startDockerWithPlugin(opts: DockerPluginOptions): Promise<DockerPlugin> {
  return started(async (steps) => {
    const fixture = await pluginOnPrefix(opts, steps);
    const unregister = registerPluginSpec(fixture.driver, fixture.plugin.socketPath);
    steps.push(unregister);
    if (opts.host) {
      const host = opts.host;
      steps.push(() => removeContainersAndNetworks(host));
      return { ...fixture, host };
    }
    const host = await startDockerd({ netns: opts.netns ?? true, name: opts.name });
    steps.push(() => host.stop());
    if (opts.busybox ?? true) {
      await ensureBusyboxImage(host);
    }
    return { ...fixture, host };
  });
}

/**
 * Registers in the calling `describe`: one new dockerd for all its tests (beforeAll; `netns`,
 * `name`, `busybox` as in {@link startDockerWithPlugin}), and for each test a plugin on a fresh
 * prefix as that engine's IPAM driver (beforeEach: {@link startDockerWithPlugin} with `host`),
 * handed to `use`. afterEach stops that test's fixture, afterAll the engine.
 */
export function dockerWithPluginEachTest(
  opts: Omit<DockerPluginOptions, 'host'>,
  use: (fixture: DockerPlugin) => void,
): void {
  let host: DockerHost | undefined;
  let fixture: DockerPlugin | undefined;
  beforeAll(async () => {
    host = await startDockerd({ netns: opts.netns ?? true, name: opts.name });
    if (opts.busybox ?? true) {
      await ensureBusyboxImage(host);
    }
  });
  afterAll(async () => {
    await host?.stop();
  });
  beforeEach(async () => {
    if (!host) {
      throw new Error('dockerWithPluginEachTest: the engine did not start');
    }
    fixture = await startDockerWithPlugin({ ...opts, host });
    use(fixture);
  });
  afterEach(async () => {
    await fixture?.stop();
    fixture = undefined;
  });
}

/** Docker never times out a legacy plugin: networks that use one must go before it stops. */
async function removeContainersAndNetworks(host: DockerHost): Promise<void> {
  const containers = (await host.docker(['ps', '-aq'], { allowFail: true })).stdout.trim();
  if (containers) {
    await host.docker(['rm', '-f', ...containers.split(/\s+/)], { allowFail: true });
  }
  const networks = (
    await host.docker(['network', 'ls', '--filter', 'driver=bridge', '-q'], { allowFail: true })
  ).stdout.trim();
  if (networks) {
    await host.docker(['network', 'rm', ...networks.split(/\s+/)], { allowFail: true });
  }
}
