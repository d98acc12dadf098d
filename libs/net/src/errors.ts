/**
 * Thrown for malformed textual input so callers (HTTP handlers, config loaders) can map bad user
 * input to a 400 without string-matching messages, while genuine bugs (RangeError from
 * `fromBigInt`/`Prefix.of`) keep propagating as programming errors.
 */
export class NetParseError extends Error {
  override readonly name = 'NetParseError';

  /** Kept verbatim so the caller can echo the offending value back without re-quoting it. */
  readonly input: string;

  constructor(input: string, message: string) {
    super(message);
    this.input = input;
  }
}

/** JSON quoting makes whitespace and control characters visible in error messages. */
export function quote(s: string): string {
  return JSON.stringify(s);
}
