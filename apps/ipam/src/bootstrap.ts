import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { ConfigError, type IpamConfig, loadConfig, redactedConfig } from '#app/config';

import { AppModule } from './app.module.js';
import { HealthServer } from './health/health-server.js';
import { IpamLogger } from './logger/ipam-logger.js';
import {
  PLUGIN_APP_OPTIONS,
  PluginHttpAdapter,
  servePluginApp,
} from './plugin-server/nest-adapter.js';
import { PluginServer } from './plugin-server/plugin-server.js';

const CONTEXT = 'Main';

/** Validates the environment or exits 1 with the config problems. */
async function loadConfigOrExit(early: PluginServer | undefined): Promise<IpamConfig> {
  try {
    return loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kontena-ipam: ${e.message}\n`);
      await early?.abandon('the plugin cannot start: its configuration is invalid');
      process.exit(1);
    }
    throw e;
  }
}

/** The socket main opened early, or (when main could not read its path) one opened now. */
async function openSocket(early: PluginServer | undefined, path: string): Promise<PluginServer> {
  try {
    return early ?? (await PluginServer.open(path));
  } catch (e) {
    process.stderr.write(
      `kontena-ipam: cannot start: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    return process.exit(1);
  }
}

/**
 * Builds the app and starts both listeners. Failures to start (socket in use, health port taken)
 * are logged and exit 1; a bad environment prints its problems and exits 1 without a stack.
 */
export async function start(
  version: string,
  early?: PluginServer,
  releaseEarlySignals?: () => void,
): Promise<void> {
  const config = await loadConfigOrExit(early);
  const server = await openSocket(early, config.socketPath);
  // Logs of the bootstrap are held until the configured logger is in place.
  const app: INestApplication = await NestFactory.create(
    AppModule.forRoot(config, server),
    new PluginHttpAdapter(server),
    { ...PLUGIN_APP_OPTIONS, bufferLogs: true },
  );
  const logger = new IpamLogger(config.logLevel);
  app.useLogger(logger);
  app.flushLogs();
  logger.log(
    `kontena-ipam ${version} starting with ${JSON.stringify(redactedConfig(config))}`,
    CONTEXT,
  );

  // From here a stop signal goes through Nest's shutdown: the socket drains (or, before the app
  // is attached, answers the calls waiting on it), etcd closes (the store), the process exits 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  releaseEarlySignals?.();

  try {
    // The socket first and without waiting for etcd: Docker activates the plugin right away.
    await servePluginApp(app, server, logger);
    await app.get(HealthServer).listen();
  } catch (e) {
    logger.error(`cannot start: ${e instanceof Error ? e.message : String(e)}`, undefined, CONTEXT);
    await server.abandon('the plugin cannot start');
    await app.close();
    process.exit(1);
  }
}
