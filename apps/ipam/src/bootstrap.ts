import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { ConfigError, IPAM_CONFIG, type IpamConfig, redactedConfig } from '#app/config';

import { AppModule } from './app.module.js';
import { configurePluginApp, createPluginAdapter, PLUGIN_APP_OPTIONS } from './app.setup.js';
import { HealthServer } from './health/health-server.js';
import type { PluginListener } from './listener/plugin-listener.js';
import { PluginSocket } from './listener/plugin-socket.js';
import { IpamLogger } from './logger/ipam-logger.js';

const CONTEXT = 'Main';

/** Builds the module (validating the environment) or exits 1 with the config problems. */
async function buildAppModule(early: PluginListener | undefined): Promise<DynamicModule> {
  try {
    return AppModule.forRoot();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kontena-ipam: ${e.message}\n`);
      await early?.abandon('the plugin cannot start: its configuration is invalid');
      process.exit(1);
    }
    throw e;
  }
}

/**
 * Builds the app and starts both listeners. Failures to start (socket in use, health port taken)
 * are logged and exit 1; a bad environment prints its problems and exits 1 without a stack.
 */
export async function start(
  version: string,
  early?: PluginListener,
  releaseEarlySignals?: () => void,
): Promise<void> {
  const appModule = await buildAppModule(early);
  // Logs of the bootstrap are held until the configured logger is in place.
  const app: INestApplication = await NestFactory.create(appModule, createPluginAdapter(), {
    ...PLUGIN_APP_OPTIONS,
    bufferLogs: true,
  });
  const config = app.get<IpamConfig>(IPAM_CONFIG);
  const logger = new IpamLogger(config.logLevel);
  app.useLogger(logger);
  app.flushLogs();
  logger.log(
    `kontena-ipam ${version} starting with ${JSON.stringify(redactedConfig(config))}`,
    CONTEXT,
  );

  configurePluginApp(app, logger);
  // From here a stop signal goes through Nest's shutdown, and PluginSocket answers the calls
  // waiting on the early socket.
  app.get(PluginSocket).adopt(early);
  // SIGTERM/SIGINT: drain the socket (PluginSocket), close etcd (the store), exit 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  releaseEarlySignals?.();

  try {
    // The socket first and without waiting for etcd: Docker activates the plugin right away.
    await app.get(PluginSocket).listen(app);
    await app.get(HealthServer).listen();
  } catch (e) {
    logger.error(`cannot start: ${e instanceof Error ? e.message : String(e)}`, undefined, CONTEXT);
    await early?.abandon('the plugin cannot start');
    await app.close();
    process.exit(1);
  }
}
