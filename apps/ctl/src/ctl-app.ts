import type { DynamicModule, INestApplicationContext } from '@nestjs/common';

import { ConfigError, ipamConfig, type IpamConfig } from '#app/config';
import { IpamLogger, logFormatNamed, STDERR_ONLY } from '#app/logging';
import { StoreUnavailable } from '#app/store';

import { EXIT } from './command.js';

/** What a command's job sees: the application (its providers) and the configuration. */
export interface CtlJob {
  app: INestApplicationContext;
  config: IpamConfig;
}

/** `kontena-ipam-ctl NAME: message` on stderr. */
export function complain(name: string, message: string): void {
  process.stderr.write(`kontena-ipam-ctl ${name}: ${message}\n`);
}

/** A usage error: the message, where the help is, and EXIT.usage. */
export function usageError(name: string, message: string): number {
  complain(name, `${message}\n(kontena-ipam-ctl ${name} --help shows its usage)`);
  return EXIT.usage;
}

/**
 * Builds the standalone application of `module` (the configuration from the environment, etcd
 * through the store), runs `job` and closes it (etcd client included). A bad environment is a
 * usage error (2); etcd not answering within ETCD_WAIT_TIMEOUT is 3; logs go to stderr.
 */
export async function runInApp(
  name: string,
  module: () => DynamicModule,
  job: (ctx: CtlJob) => Promise<number>,
): Promise<number> {
  let appModule: DynamicModule;
  try {
    appModule = module();
  } catch (e) {
    if (e instanceof ConfigError) {
      complain(name, e.message);
      return EXIT.usage;
    }
    throw e;
  }
  const { NestFactory } = await import('@nestjs/core');
  const app = await NestFactory.createApplicationContext(appModule, {
    bufferLogs: true,
    abortOnError: false,
  });
  try {
    const config = app.get<IpamConfig>(ipamConfig.KEY);
    app.useLogger(new IpamLogger(config.logLevel, STDERR_ONLY, logFormatNamed(config.logFormat)));
    app.flushLogs();
    return await job({ app, config });
  } catch (e) {
    if (e instanceof StoreUnavailable) {
      complain(name, `etcd did not answer, nothing was changed: ${e.message}`);
      return EXIT.etcdUnreachable;
    }
    throw e;
  } finally {
    await app.close();
  }
}
