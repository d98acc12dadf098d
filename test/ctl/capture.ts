import type { CtlIo } from '../../apps/ctl/src/command.js';

/** A ctl command's IO held in memory: what it wrote, as lines, and the environment it reads. */
export interface Captured {
  io: CtlIo;
  /** stdout's complete lines */
  readonly lines: string[];
  /** stderr's complete lines */
  readonly errors: string[];
  /** forgets what was written so far */
  clear(): void;
}

const completeLines = (text: string): string[] => text.split('\n').slice(0, -1);

export function capture(env?: CtlIo['env']): Captured {
  let stdout = '';
  let stderr = '';
  return {
    io: {
      output: {
        stdout: (text) => void (stdout += text),
        stderr: (text) => void (stderr += text),
      },
      ...(env ? { env } : {}),
    },
    get lines() {
      return completeLines(stdout);
    },
    get errors() {
      return completeLines(stderr);
    },
    clear() {
      stdout = '';
      stderr = '';
    },
  };
}
