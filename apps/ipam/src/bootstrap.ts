import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import type { IpamConfig } from '#app/config';
import type { IpamLogger } from '#app/logging';
import { PoolAllocator, PoolStates } from '#app/allocator';
import { METRICS } from '#app/metrics';
import { AllocationStore, EtcdConnection, NodeRegistration } from '#app/store';

import { AppModule, type Listeners } from './app.module.js';
import { readiness } from './health/health-server.js';
import { poolSamples, supernetSamples } from './health/pool-samples.js';
import {
  PLUGIN_APP_OPTIONS,
  PluginHttpAdapter,
  servePluginApp,
} from './plugin-server/nest-adapter.js';

const CONTEXT = 'Main';

export interface StartOptions {
  config: IpamConfig;
  /** The plugin's version, in its registration under its NODE_ID. */
  version: string;
  logger: IpamLogger;
  /** Opened by main before Nest loaded; the app takes them over. */
  listeners: Listeners;
}

/**
 * Builds the app and hands it both listeners: the socket's calls (those waiting first) and the
 * health checks. A failure here is a bug: logged with its stack, the socket answers 503 for its
 * grace and goes away, exit 1.
 */
export async function start(
  { config, version, logger, listeners }: StartOptions,
  releaseEarlySignals: () => void,
): Promise<void> {
  const { socket, health } = listeners;
  let app: INestApplication | undefined;
  try {
    // Logs of the bootstrap are held until the configured logger is in place.
    app = await NestFactory.create(
      AppModule.forRoot(config, listeners, version),
      new PluginHttpAdapter(socket),
      { ...PLUGIN_APP_OPTIONS, bufferLogs: true },
    );
    app.useLogger(logger);
    app.flushLogs();
    // From here a stop signal goes through Nest's shutdown: the socket drains (or, before the
    // app is attached, answers the calls waiting on it), etcd closes (the store), exit 0.
    app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
    releaseEarlySignals();
    // Without waiting for etcd: Docker activates the plugin and etcd may come later.
    await servePluginApp(app, socket);
    const store = app.get(EtcdConnection);
    const registration = app.get(NodeRegistration);
    health.attach(() => readiness(store.status(), socket.status(), registration.status()));
    const [states, allocation] = [app.get(PoolStates), app.get(AllocationStore)];
    const pools = app.get(PoolAllocator);
    METRICS.sources = {
      etcdUp: () => store.status().ready,
      pools: () => poolSamples(states, allocation),
      supernets: () => supernetSamples(pools, allocation),
    };
  } catch (e) {
    logger.error(
      `cannot start: ${e instanceof Error ? e.message : String(e)}`,
      e instanceof Error ? e.stack : undefined,
      CONTEXT,
    );
    await Promise.all([socket.abandon('the plugin cannot start'), health.close()]);
    await app?.close();
    process.exit(1);
  }
}
