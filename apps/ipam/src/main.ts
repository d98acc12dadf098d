import {
  ConfigError,
  configWarnings,
  type IpamConfig,
  loadConfig,
  redactedConfig,
} from '#app/config';
import { IpamLogger, logFormatNamed, STDOUT_AND_STDERR } from '#app/logging';
import { METRICS } from '#app/metrics';

import type { Listeners } from './app.module.js';
import { parseArgs, readVersion, usage } from './cli.js';
import { exitOnCrash } from './exit-on-crash.js';
import { HealthServer } from './health/health-server.js';
import { PluginServer } from './plugin-server/plugin-server.js';

const CONTEXT = 'Main';

/** What becomes of a failure that reaches main; the plugin's own handling once it has a logger. */
let onFailure = (e: unknown): void => {
  process.stderr.write(
    `kontena-ipam: failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
};

/**
 * Entry point of bin/kontena-ipam. The app is imported only when it is going to run, so
 * `--help` and `--version` answer without loading Nest and etcd3.
 */
async function main(): Promise<void> {
  const action = parseArgs(process.argv.slice(2));
  switch (action.kind) {
    case 'help':
      process.stdout.write(usage());
      return;
    case 'version':
      process.stdout.write(`${readVersion()}\n`);
      return;
    case 'usage-error':
      process.stderr.write(`kontena-ipam: ${action.message}\n\n${usage()}`);
      process.exitCode = 2;
      return;
    case 'run':
      await run(readVersion());
      return;
  }
}

/**
 * The one validated configuration first, then both listeners, then the app (Nest, etcd3), which
 * takes them over: Docker can connect, and health answer, while the app is still loading.
 */
async function run(version: string): Promise<void> {
  const config = configOrExit();
  METRICS.recording = config.metricsRecording;
  METRICS.buildInfo(version);
  const logger = new IpamLogger(
    config.logLevel,
    STDOUT_AND_STDERR,
    logFormatNamed(config.logFormat),
  );
  logger.log(
    `kontena-ipam ${version} starting with ${JSON.stringify(redactedConfig(config))}`,
    CONTEXT,
  );
  for (const warning of configWarnings(config)) {
    logger.warn(warning, CONTEXT);
  }
  let listeners: Listeners | undefined;
  onFailure = exitOnCrash(process, logger, () => listeners?.socket.removeFile());
  // Until the app installs its own shutdown hooks, a stop signal closes the listeners (answering
  // the calls waiting on the socket) and exits 0.
  let stopRequested = false;
  const stopEarly = (): void => {
    stopRequested = true;
    if (listeners !== undefined) {
      void closeListeners(listeners).then(() => process.exit(0));
    }
  };
  process.on('SIGTERM', stopEarly);
  process.on('SIGINT', stopEarly);
  listeners = await openListenersOrExit(config, logger);
  if (stopRequested) {
    stopEarly();
    return;
  }
  const { start } = await import('./bootstrap.js');
  await start({ config, version, logger, listeners }, () => {
    process.off('SIGTERM', stopEarly);
    process.off('SIGINT', stopEarly);
  });
}

/** A bad environment prints every problem and exits 1, before anything listens. */
function configOrExit(): IpamConfig {
  try {
    return loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`kontena-ipam: ${e.message}\n`);
      return process.exit(1);
    }
    throw e;
  }
}

/**
 * Health first, so that it answers from the moment the socket file appears (Docker connects as
 * soon as it does). Either failing to listen (socket in use, port taken) is logged and exits 1.
 */
async function openListenersOrExit(config: IpamConfig, logger: IpamLogger): Promise<Listeners> {
  let health: HealthServer | undefined;
  try {
    health = await HealthServer.open(config.health, logger);
    return { health, socket: await PluginServer.open(config.socketPath, logger) };
  } catch (e) {
    logger.error(`cannot start: ${e instanceof Error ? e.message : String(e)}`, undefined, CONTEXT);
    await health?.close();
    return process.exit(1);
  }
}

/** A stop before the app took the listeners over: waiting calls get a 503, then both close. */
async function closeListeners({ socket, health }: Listeners): Promise<void> {
  await Promise.all([socket.abandon(), health.close()]);
}

main().catch((e: unknown) => onFailure(e));
