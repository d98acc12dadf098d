import type { LoggerService } from '@nestjs/common';
import { inspect } from 'node:util';

/** What the handler needs of `process` (a fake one in the unit test). */
export interface CrashableProcess {
  on(
    event: 'uncaughtException' | 'unhandledRejection',
    listener: (error: unknown) => void,
  ): unknown;
  exit(code: number): void;
}

/** The stack of an Error; anything else (a rejection may carry any value) as Node shows it. */
function describe(error: unknown): string {
  return error instanceof Error && error.stack !== undefined ? error.stack : inspect(error);
}

/**
 * An uncaught exception or an unhandled rejection is a bug that leaves the process in an unknown
 * state, so it still ends the process, but on the plugin's terms: logged through the plugin's
 * logger (one entry, with the stack), the socket file removed by `cleanup` (the caller removes it
 * only if it is still ours), exit 1. Left to Node, the error is printed and the process exits
 * with the socket file still there: dockerd then gets "connection refused" from a dead plugin
 * until the next start removes the file as stale.
 *
 * Returns the same handling for a failure the caller caught itself (main's last resort).
 */
export function exitOnCrash(
  proc: CrashableProcess,
  logger: LoggerService,
  cleanup: () => void,
): (error: unknown) => void {
  const crash = (what: string, error: unknown): void => {
    try {
      logger.error(`${what}, exiting: ${describe(error)}`, undefined, 'Main');
      cleanup();
    } catch (e) {
      logger.error(`while exiting after a crash: ${describe(e)}`, undefined, 'Main');
    } finally {
      proc.exit(1);
    }
  };
  proc.on('uncaughtException', (error) => crash('uncaught exception', error));
  proc.on('unhandledRejection', (error) => crash('unhandled rejection', error));
  return (error) => crash('failed to start', error);
}
