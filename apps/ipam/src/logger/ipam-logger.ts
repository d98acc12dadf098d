import type { LoggerService } from '@nestjs/common';

import type { IpamConfig } from '#app/config';

export type LogLevelName = IpamConfig['logLevel'];

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

export interface LogSink {
  out(line: string): void;
  err(line: string): void;
}

const processSink: LogSink = {
  out: (line) => process.stdout.write(line),
  err: (line) => process.stderr.write(line),
};

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
 * One line per event: `<ISO time> <LEVEL> [<context>] <message>`. debug and info go to stdout,
 * warn and error to stderr (for a managed plugin both end up in the dockerd log). Honours
 * LOG_LEVEL; Nest's `log` is info, `verbose` is debug, `fatal` is error.
 */
export class IpamLogger implements LoggerService {
  private readonly threshold: number;

  constructor(
    level: LogLevelName,
    private readonly sink: LogSink = processSink,
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

  /** Nest calls `error(message, stack?, context?)`; the stack goes on the following lines. */
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
    const parts = [render(message), ...extra.filter((e) => e !== undefined).map(render)];
    const prefix = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${
      context === undefined ? '' : `[${context}] `
    }`;
    const line = `${prefix}${parts.join(' ')}\n`;
    if (level === 'warn' || level === 'error') {
      this.sink.err(line);
    } else {
      this.sink.out(line);
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
