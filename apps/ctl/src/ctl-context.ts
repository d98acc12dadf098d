import type { DynamicModule, INestApplicationContext } from '@nestjs/common';

import { ConfigError, type IpamConfig } from '#app/config';
import { StoreUnavailable } from '#app/store';

import { openCommandContext } from '../../cleanup/src/command-context.js';
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
 * The part of a ctl command before it loads anything: `--help` prints `usage` (EXIT.ok), a
 * usage error says what and where to look (EXIT.usage); otherwise `run` with the options.
 */
export async function withArgs<O>(
  name: string,
  usage: string,
  args: readonly string[],
  output: CtlOutput,
  parse: (args: readonly string[]) => O | { error: string },
  run: (options: O) => Promise<number>,
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    output.out(usage.trimEnd());
    return EXIT.ok;
  }
  const options = parse(args);
  if (typeof options === 'object' && options !== null && 'error' in options) {
    output.err(`kontena-ipam-ctl ${name}: ${options.error}`);
    output.err(`(kontena-ipam-ctl ${name} --help lists the options)`);
    return EXIT.usage;
  }
  return run(options);
}

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
  const { app, config } = await openCommandContext(appModule);
  try {
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
