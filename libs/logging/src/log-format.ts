import type { LogLevelName } from '#app/config';

/** One event, as the logger hands it to a {@link LogFormat}. */
export interface LogRecord {
  time: Date;
  level: LogLevelName;
  /** The class or component that logged (Nest's context), when there is one. */
  context: string | undefined;
  /** The message and any extra parameters (an error's stack included), rendered as text. */
  message: string;
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
