import type { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { ConfigError, configWarnings, ipamConfig, type IpamConfig } from '#app/config';
import { IpamLogger, STDERR_ONLY } from '#app/logging';
import { StoreUnavailable } from '#app/store';

import { EXIT } from './command.js';

/** Where a ctl command writes: its report on `out`, why it failed on `err`. */
export interface CtlOutput {
  out(line: string): void;
  err(line: string): void;
}

export const PROCESS_OUTPUT: CtlOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Builds the Nest standalone application of a ctl command from `module()` (which validates the
 * environment: a ConfigError is a usage error, 2), logs the configuration warnings on stderr,
 * runs `job`, and closes the application (etcd client included). etcd unreachable for
 * ETCD_WAIT_TIMEOUT is EXIT.etcdUnreachable (3), said on `err` with the command's name.
 */
export async function runInContext(
  name: string,
  module: () => DynamicModule,
  output: CtlOutput,
  job: (app: INestApplicationContext, config: IpamConfig) => Promise<number>,
): Promise<number> {
  let appModule: DynamicModule;
  try {
    appModule = module();
  } catch (e) {
    if (e instanceof ConfigError) {
      output.err(`kontena-ipam-ctl ${name}: ${e.message}`);
      return EXIT.usage;
    }
    throw e;
  }
  const app = await NestFactory.createApplicationContext(appModule, {
    bufferLogs: true,
    abortOnError: false,
  });
  try {
    const config = app.get<IpamConfig>(ipamConfig.KEY);
    const logger = new IpamLogger(config.logLevel, STDERR_ONLY);
    app.useLogger(logger);
    app.flushLogs();
    for (const warning of configWarnings(config)) {
      logger.warn(warning, 'Config');
    }
    return await job(app, config);
  } catch (e) {
    if (e instanceof StoreUnavailable) {
      output.err(`kontena-ipam-ctl ${name}: ${e.message}; nothing more was changed`);
      return EXIT.etcdUnreachable;
    }
    throw e;
  } finally {
    await app.close();
  }
}
