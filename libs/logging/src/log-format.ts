import type { LogFormatName, LogLevelName } from '#app/config';

/** One event, as the logger hands it to a {@link LogFormat}. */
export interface LogRecord {
  time: Date;
  level: LogLevelName;
  /** The class or component that logged (Nest's context), when there is one. */
  context: string | undefined;
  /** The message and any extra parameters (an error's stack included), rendered as text. */
  message: string;
  /** The event's structured fields (pool, address, node, call, duration…), when it has any. */
  fields?: Readonly<Record<string, unknown>>;
}

/**
 * Turns a record into one line, without its newline. The output format is this one function:
 * another format (JSON, say) is another function of this type, not another logger.
 */
export type LogFormat = (record: LogRecord) => string;

/** C0 and C1 controls, and the two Unicode separators that some viewers break lines at. */
const CONTROL_RE = /[\p{Cc}\u2028\u2029]/gu;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Writes control characters as `\n`, `\t`, `\u001b`…, so a value that came from a request (a
 * pool id, an error message) can never end the line early and forge a log line of its own, nor
 * move a terminal's cursor.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(
    CONTROL_RE,
    (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** `<ISO time> <LEVEL> [<context>] <message>`, levels padded to one width so messages align. */
export const textFormat: LogFormat = ({ time, level, context, message }) =>
  escapeControlCharacters(
    `${time.toISOString()} ${level.toUpperCase().padEnd(5)} ${
      context === undefined ? '' : `[${context}] `
    }${message}`,
  );

/** What JSON.stringify leaves raw that a terminal or a line-based viewer may act on. */
const JSON_UNSAFE_RE = /[\u007f-\u009f\u2028\u2029]/gu;

/** The keys every JSON line has; an event's fields cannot replace them. */
const JSON_KEYS = new Set(['time', 'level', 'msg', 'context']);

/**
 * One JSON object per line (LOG_FORMAT=json): `time`, `level`, `msg`, `context` (null when none),
 * then the event's fields. JSON.stringify escapes line breaks and C0 controls; DEL, C1 and the
 * Unicode separators are escaped too, so a line is one line for any viewer.
 */
export const jsonFormat: LogFormat = ({ time, level, context, message, fields }) => {
  const line: Record<string, unknown> = {
    time: time.toISOString(),
    level,
    msg: message,
    context: context ?? null,
  };
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (!JSON_KEYS.has(key) && value !== undefined) {
      line[key] = typeof value === 'bigint' ? value.toString() : value;
    }
  }
  return JSON.stringify(line).replace(
    JSON_UNSAFE_RE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
};

/** The format LOG_FORMAT names. */
export function logFormatNamed(name: LogFormatName): LogFormat {
  return name === 'json' ? jsonFormat : textFormat;
}
