import type { LoggerService } from '@nestjs/common';

import type { LogLevelName } from '#app/config';

import { textFormat, type LogFormat } from './log-format.js';

const SEVERITY: Record<LogLevelName, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Nest's own bootstrap chatter (module wiring, route mapping) is useful when debugging and noise
 * otherwise, so its `log` calls are demoted to debug.
 */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'NestApplication',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
]);

/** A stack trace as Nest passes it to `error(message, stack, context)`. */
const STACK_RE = /^.*\n\s+at /;

/** Where lines go: `out` receives debug and info, `err` warn and error. */
export interface LogOutput {
  out(line: string): void;
  err(line: string): void;
}

/** The plugin's choice: debug and info on stdout, warn and error on stderr. */
export const STDOUT_AND_STDERR: LogOutput = {
  out: (line) => process.stdout.write(line),
  err: (line) => process.stderr.write(line),
};

/** The commands' choice: every line on stderr, because stdout carries their report. */
export const STDERR_ONLY: LogOutput = {
  out: (line) => process.stderr.write(line),
  err: (line) => process.stderr.write(line),
};

/**
 * An event with structured fields: `logger.log({ msg: 'allocated …', pool, address }, context)`.
 * The text format prints `msg` alone (so it says everything itself); JSON adds the fields.
 */
export interface LogEvent {
  msg: string;
  [field: string]: unknown;
}

function isEvent(value: unknown): value is LogEvent {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Error) &&
    typeof (value as { msg?: unknown }).msg === 'string'
  );
}

function render(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value instanceof Error) {
    return value.stack ?? `${value.name}: ${value.message}`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The logger of the plugin and of every command: one line per event (see {@link textFormat}),
 * at LOG_LEVEL and above. Nest's `log` is info, `verbose` is debug, `fatal` is error. Every
 * line goes through the format, which keeps it one line whatever the message holds (an error's
 * stack included: its line breaks are escaped too).
 */
export class IpamLogger implements LoggerService {
  private readonly threshold: number;

  constructor(
    level: LogLevelName,
    private readonly output: LogOutput = STDOUT_AND_STDERR,
    private readonly format: LogFormat = textFormat,
  ) {
    this.threshold = SEVERITY[level];
  }

  isEnabled(level: LogLevelName): boolean {
    return SEVERITY[level] >= this.threshold;
  }

  log(message: unknown, ...params: unknown[]): void {
    const { context, rest } = splitContext(params);
    const level = context !== undefined && FRAMEWORK_CONTEXTS.has(context) ? 'debug' : 'info';
    this.write(level, context, message, rest);
  }

  debug(message: unknown, ...params: unknown[]): void {
    const { context, rest } = splitContext(params);
    this.write('debug', context, message, rest);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.debug(message, ...params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    const { context, rest } = splitContext(params);
    this.write('warn', context, message, rest);
  }

  /** Nest calls `error(message, stack?, context?)`; the stack follows the message. */
  error(message: unknown, ...params: unknown[]): void {
    const { context, rest } = splitContext(params);
    this.write('error', context, message, rest);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.error(message, ...params);
  }

  private write(
    level: LogLevelName,
    context: string | undefined,
    message: unknown,
    extra: unknown[],
  ): void {
    if (!this.isEnabled(level)) {
      return;
    }
    let fields: Record<string, unknown> | undefined;
    let head = message;
    if (isEvent(message)) {
      const { msg, ...rest } = message;
      head = msg;
      fields = rest;
    }
    const text = [head, ...extra.filter((e) => e !== undefined)].map(render).join(' ');
    const record = { time: new Date(), level, context, message: text };
    const line = `${this.format(fields === undefined ? record : { ...record, fields })}\n`;
    if (level === 'warn' || level === 'error') {
      this.output.err(line);
    } else {
      this.output.out(line);
    }
  }
}

/**
 * Nest's convention: the last string parameter is the context, unless it is the only extra and
 * looks like a stack trace (`error(message, stack)`).
 */
function splitContext(params: unknown[]): { context?: string; rest: unknown[] } {
  const last = params.at(-1);
  if (typeof last !== 'string' || STACK_RE.test(last)) {
    return { rest: params };
  }
  return { context: last, rest: params.slice(0, -1) };
}
