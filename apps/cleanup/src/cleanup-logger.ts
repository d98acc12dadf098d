import type { LoggerService } from '@nestjs/common';

import type { LogLevelName } from '#app/config';

const SEVERITY: Record<LogLevelName, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Nest's wiring chatter is debug, not info. */
const FRAMEWORK_CONTEXTS = new Set(['NestFactory', 'NestApplication', 'InstanceLoader']);

/**
 * `<ISO time> <LEVEL> [<context>] <message>` lines on stderr, at LOG_LEVEL and above: stdout
 * carries only the report, so that `--json` output can be piped as it is.
 */
export class CleanupLogger implements LoggerService {
  private readonly threshold: number;

  constructor(
    level: LogLevelName,
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
  ) {
    this.threshold = SEVERITY[level];
  }

  log(message: unknown, ...params: unknown[]): void {
    const context = contextOf(params);
    this.emit(
      context !== undefined && FRAMEWORK_CONTEXTS.has(context) ? 'debug' : 'info',
      message,
      params,
    );
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.emit('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.emit('debug', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.emit('warn', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.emit('error', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.emit('error', message, params);
  }

  private emit(level: LogLevelName, message: unknown, params: unknown[]): void {
    if (SEVERITY[level] < this.threshold) {
      return;
    }
    const context = contextOf(params);
    const extra = (context === undefined ? params : params.slice(0, -1))
      .filter((p) => p !== undefined)
      .map(render);
    const text = [render(message), ...extra].join(' ');
    this.write(
      `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${context === undefined ? '' : `[${context}] `}${text}\n`,
    );
  }
}

/** Nest passes the context last; a lone stack trace (`error(message, stack)`) is no context. */
function contextOf(params: unknown[]): string | undefined {
  const last = params.at(-1);
  return typeof last === 'string' && !/^.*\n\s+at /.test(last) ? last : undefined;
}

function render(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value instanceof Error) {
    return value.stack ?? value.message;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
