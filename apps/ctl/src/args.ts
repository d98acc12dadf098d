import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** A command's line read by node:util's parseArgs, or why it is not one (a usage error). */
export interface CommandLine<O extends Options> {
  values: { [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean };
  positionals: string[];
}

/**
 * Reads `args` strictly against `options`, with at most `maxPositionals` positional arguments.
 * Returns the message of a usage error instead of throwing.
 */
export function readCommandLine<O extends Options>(
  args: readonly string[],
  options: O,
  maxPositionals: number,
): CommandLine<O> | string {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (e) {
    return e instanceof Error ? e.message.replace(/\. To specify .*$/s, '') : String(e);
  }
  if (parsed.positionals.length > maxPositionals) {
    return `unexpected argument: ${parsed.positionals[maxPositionals]}`;
  }
  for (const [name, value] of Object.entries(parsed.values)) {
    if (value === '') {
      return `--${name} needs a value`;
    }
  }
  return parsed;
}

/** Whether the line asks for help: help wins over any mistake on the same line. */
export const wantsHelp = (args: readonly string[]): boolean =>
  args.includes('-h') || args.includes('--help');
