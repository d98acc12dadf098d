import type { DynamicModule, INestApplicationContext } from '@nestjs/common';

import { ConfigError, type IpamConfig } from '#app/config';
import { StoreUnavailable } from '#app/store';

import { openCommandContext } from '../../cleanup/src/command-context.js';
import { complain, EXIT, type CtlRun, type Env } from './command.js';

/** What a command's job sees: the application (its providers), the configuration, its output. */
export interface CtlJob {
  app: INestApplicationContext;
  config: IpamConfig;
  /** one line of the report (stdout) */
  out: (line: string) => void;
  /** text of the report as it comes, newlines included (stdout) */
  write: (text: string) => void;
  /** `kontena-ipam-ctl NAME: message` (stderr) */
  complain: (message: string) => void;
}

/**
 * Builds the standalone application of `module(env)` (which validates the environment),
 * through openCommandContext (logs on stderr at LOG_LEVEL in LOG_FORMAT, the configuration
 * warnings first), runs `job` and closes the application (etcd client included). A bad
 * environment is a usage error (2); etcd not answering within ETCD_WAIT_TIMEOUT is 3.
 */
export async function runInApp(
  run: CtlRun,
  module: (env?: Env) => DynamicModule,
  job: (ctx: CtlJob) => Promise<number>,
): Promise<number> {
  let appModule: DynamicModule;
  try {
    appModule = module(run.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      complain(run, e.message);
      return EXIT.usage;
    }
    throw e;
  }
  const { app, config } = await openCommandContext(appModule);
  try {
    return await job({
      app,
      config,
      out: (line) => run.output.stdout(`${line}\n`),
      write: (text) => run.output.stdout(text),
      complain: (message) => complain(run, message),
    });
  } catch (e) {
    if (e instanceof StoreUnavailable) {
      complain(run, `${e.message}; nothing more was changed (run it again once etcd answers)`);
      return EXIT.etcdUnreachable;
    }
    throw e;
  } finally {
    await app.close();
  }
}
