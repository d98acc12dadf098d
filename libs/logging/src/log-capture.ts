import { Logger } from '@nestjs/common';

import type { LogLevelName } from '#app/config';

import { IpamLogger } from './ipam-logger.js';

/**
 * Nest's Logger writes nowhere from now on: neither the `new Logger(context)` instances of the
 * code nor the framework. The unit tests' setup calls it, so a test run prints only results.
 */
export function silenceNestLogs(): void {
  Logger.overrideLogger(false);
}

export interface LogCapture {
  /** Every line written so far, without its newline, in order. */
  readonly lines: string[];
  /** The logger writing into `lines`, for `app.useLogger(…)` or a testing module's `setLogger`. */
  readonly logger: IpamLogger;
  /** Back to silence ({@link silenceNestLogs}). */
  restore(): void;
}

/**
 * For a test that asserts on log lines: Nest's Logger writes them, formatted as in production,
 * into `lines`. Call `restore()` when done.
 */
export function captureNestLogs(level: LogLevelName = 'debug'): LogCapture {
  const lines: string[] = [];
  const write = (line: string): void => {
    lines.push(line.endsWith('\n') ? line.slice(0, -1) : line);
  };
  const logger = new IpamLogger(level, { out: write, err: write });
  Logger.overrideLogger(logger);
  return { lines, logger, restore: silenceNestLogs };
}
