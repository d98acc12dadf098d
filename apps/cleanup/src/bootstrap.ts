import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { ConfigError, IPAM_CONFIG, type IpamConfig } from '#app/config';

import { renderCheckJson, renderCheckText } from './check.js';
import { CheckModule } from './check.module.js';
import { CheckService } from './check.service.js';
import type { CleanupOptions } from './cli.js';
import { CleanupLogger } from './cleanup-logger.js';
import { CleanupModule } from './cleanup.module.js';
import { CleanupService } from './cleanup.service.js';
import { renderJson, renderText } from './report.js';

const NAME = 'kontena-ipam-cleanup';
/** After SIGTERM/SIGINT the run stops before its next change; this bounds a wait for etcd. */
const STOP_GRACE_MS = 10_000;

/** Exit codes: 0 done, 1 failed, 2 bad usage (command line or environment). */
export type ExitCode = 0 | 1 | 2;

/**
 * Builds the standalone application, runs one pass (or --forget-node), prints the report on
 * stdout, closes the application (etcd client included) and returns the exit code.
 */
export async function runCleanup(options: CleanupOptions): Promise<ExitCode> {
  let appModule: DynamicModule;
  try {
    appModule = CleanupModule.forRoot();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${NAME}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }

  // A stop signal aborts the quiesce at once and any later step before its next change.
  const stop = new AbortController();
  let forced: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      return;
    }
    stop.abort(signal);
    forced = setTimeout(() => {
      process.stderr.write(
        `${NAME}: still waiting ${STOP_GRACE_MS / 1000} s after ${signal}: exiting\n`,
      );
      process.exit(1);
    }, STOP_GRACE_MS);
    forced.unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const app = await NestFactory.createApplicationContext(appModule, {
    bufferLogs: true,
    abortOnError: false,
  });
  try {
    const config = app.get<IpamConfig>(IPAM_CONFIG);
    app.useLogger(new CleanupLogger(config.logLevel));
    app.flushLogs();
    if (options.forgetNode === config.nodeId) {
      process.stderr.write(
        `${NAME}: --forget-node ${options.forgetNode} is this node's own NODE_ID; ` +
          'a cleanup pass (without --forget-node) frees its leaked addresses\n',
      );
      return 2;
    }
    const report = await app.get(CleanupService).run(options, stop.signal);
    process.stdout.write(
      options.json
        ? `${renderJson(report)}\n`
        : renderText(report)
            .map((l) => `${l}\n`)
            .join(''),
    );
    if (!report.ok) {
      process.stderr.write(`${NAME}: ${report.error ?? 'failed'}\n`);
    }
    return report.ok ? 0 : 1;
  } finally {
    await app.close();
    clearTimeout(forced);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/**
 * `--check`: reads the store at one revision, prints each violation and a summary line (or one
 * JSON object) and returns 0 when it is consistent, 1 on a violation or when etcd cannot be
 * read, 2 on a bad environment. Read-only: no signal handling is needed, nothing is half done.
 */
export async function runCheck(json: boolean): Promise<ExitCode> {
  let appModule: DynamicModule;
  try {
    appModule = CheckModule.forRoot();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${NAME}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const app = await NestFactory.createApplicationContext(appModule, {
    bufferLogs: true,
    abortOnError: false,
  });
  try {
    const config = app.get<IpamConfig>(IPAM_CONFIG);
    app.useLogger(new CleanupLogger(config.logLevel));
    app.flushLogs();
    const report = await app.get(CheckService).run();
    process.stdout.write(
      json
        ? `${renderCheckJson(report)}\n`
        : renderCheckText(report)
            .map((l) => `${l}\n`)
            .join(''),
    );
    if (report.error !== undefined) {
      process.stderr.write(`${NAME}: ${report.error}\n`);
    } else if (!report.ok) {
      process.stderr.write(
        `${NAME}: ${report.violations.length} violation(s) of the store's invariants\n`,
      );
    }
    return report.ok ? 0 : 1;
  } finally {
    await app.close();
  }
}
