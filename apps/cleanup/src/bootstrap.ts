import type { DynamicModule, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { ConfigError, configWarnings, ipamConfig, type IpamConfig } from '#app/config';
import { IpamLogger, logFormatNamed, STDERR_ONLY } from '#app/logging';

import { renderCheckJson, renderCheckText } from './check.js';
import { CheckModule } from './check.module.js';
import { CheckService } from './check.service.js';
import type { CleanupOptions, CliAction } from './cli.js';
import { CleanupModule } from './cleanup.module.js';
import { CleanupService } from './cleanup.service.js';
import { renderJson, renderText } from './report.js';

const NAME = 'kontena-ipam-cleanup';
/** After SIGTERM/SIGINT the run stops before its next change; this bounds a wait for etcd. */
const STOP_GRACE_MS = 10_000;

/** Exit codes: 0 done, 1 failed, 2 bad usage (command line or environment). */
export type ExitCode = 0 | 1 | 2;

/** What the application runs: a cleanup pass (or --forget-node), or the consistency check. */
export type AppAction = Extract<CliAction, { kind: 'run' | 'check' }>;

/** What a run prints and returns. */
interface Outcome {
  /** the report, one line each */
  stdout: string[];
  /** why it failed, one line on stderr */
  failure?: string;
  code: ExitCode;
}

/**
 * Builds the standalone application for `action`, runs it, prints its report on stdout (the
 * reason of a failure on stderr), closes the application (etcd client included) and returns the
 * exit code. A bad environment is a usage error (2).
 */
export async function runCleanupApp(action: AppAction): Promise<ExitCode> {
  let appModule: DynamicModule;
  try {
    appModule = action.kind === 'check' ? CheckModule.forRoot() : CleanupModule.forRoot();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${NAME}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // The check is read-only: a signal may end it anywhere, nothing is half done.
  let stop: StopOnSignals | undefined;
  let job: (app: INestApplicationContext, config: IpamConfig) => Promise<Outcome>;
  if (action.kind === 'check') {
    job = (app) => check(app, action.json);
  } else {
    stop = new StopOnSignals();
    const { signal } = stop;
    job = (app, config) => pass(app, config, action.options, signal);
  }
  try {
    const app = await NestFactory.createApplicationContext(appModule, {
      bufferLogs: true,
      abortOnError: false,
    });
    try {
      const config = app.get<IpamConfig>(ipamConfig.KEY);
      const logger = new IpamLogger(config.logLevel, STDERR_ONLY, logFormatNamed(config.logFormat));
      app.useLogger(logger);
      app.flushLogs();
      for (const warning of configWarnings(config)) {
        logger.warn(warning, 'Config');
      }
      const outcome = await job(app, config);
      if (outcome.stdout.length > 0) {
        process.stdout.write(outcome.stdout.map((l) => `${l}\n`).join(''));
      }
      if (outcome.failure !== undefined) {
        process.stderr.write(`${NAME}: ${outcome.failure}\n`);
      }
      return outcome.code;
    } finally {
      await app.close();
    }
  } finally {
    stop?.dispose();
  }
}

/** One cleanup pass, or --forget-node (never of this node's own id). */
async function pass(
  app: INestApplicationContext,
  config: IpamConfig,
  options: CleanupOptions,
  signal: AbortSignal,
): Promise<Outcome> {
  if (options.forgetNode === config.nodeId) {
    return {
      stdout: [],
      failure:
        `--forget-node ${options.forgetNode} is this node's own NODE_ID; ` +
        'a cleanup pass (without --forget-node) frees its leaked addresses',
      code: 2,
    };
  }
  const report = await app.get(CleanupService).run(options, signal);
  return {
    stdout: options.json ? [renderJson(report)] : renderText(report),
    ...(report.ok ? {} : { failure: report.error ?? 'failed' }),
    code: report.ok ? 0 : 1,
  };
}

/**
 * `--check`: reads the store at one revision; 0 when it is consistent, 1 on a violation or when
 * etcd cannot be read.
 */
async function check(app: INestApplicationContext, json: boolean): Promise<Outcome> {
  const report = await app.get(CheckService).run();
  const failure =
    report.error ??
    (report.ok ? undefined : `${report.violations.length} violation(s) of the store's invariants`);
  return {
    stdout: json ? [renderCheckJson(report)] : renderCheckText(report),
    ...(failure === undefined ? {} : { failure }),
    code: report.ok ? 0 : 1,
  };
}

/**
 * SIGTERM and SIGINT abort the signal: the pass's quiesce at once, any later step before its
 * next change. A run still going STOP_GRACE_MS after the signal (waiting for etcd) exits.
 */
class StopOnSignals {
  private readonly controller = new AbortController();
  private forced: NodeJS.Timeout | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.controller.signal.aborted) {
      return;
    }
    this.controller.abort(signal);
    this.forced = setTimeout(() => {
      process.stderr.write(
        `${NAME}: still waiting ${STOP_GRACE_MS / 1000} s after ${signal}: exiting\n`,
      );
      process.exit(1);
    }, STOP_GRACE_MS);
    this.forced.unref();
  };

  constructor() {
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    clearTimeout(this.forced);
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
  }
}
