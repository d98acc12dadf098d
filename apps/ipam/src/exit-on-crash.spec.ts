import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';

import { exitOnCrash } from './exit-on-crash.js';

/** A process that records its exit code instead of exiting, and a logger that records lines. */
function harness(cleanup: () => void = () => undefined) {
  const events = new EventEmitter();
  const exit = vi.fn<(code: number) => void>();
  const lines: string[] = [];
  const record = (message: unknown, ...rest: unknown[]): void => {
    lines.push(
      [message, ...rest]
        .filter((p) => p !== undefined)
        .map(String)
        .join(' | '),
    );
  };
  const logger = { log: record, warn: record, error: record };
  const order: string[] = [];
  const failed = exitOnCrash({ on: (e, l) => events.on(e, l), exit }, logger, () => {
    order.push('cleanup');
    cleanup();
  });
  exit.mockImplementation(() => void order.push('exit'));
  return { events, exit, lines, order, failed };
}

function boom(message: string): Error {
  const error = new Error(message);
  error.stack = `Error: ${message}\n    at thrower (file.js:1:1)`;
  return error;
}

describe('exitOnCrash', () => {
  it.each([
    {
      name: 'an uncaught exception',
      crash: (h: ReturnType<typeof harness>) => h.events.emit('uncaughtException', boom('x')),
      line: 'uncaught exception, exiting: Error: x\n    at thrower (file.js:1:1) | Main',
    },
    {
      name: 'an unhandled rejection of an Error',
      crash: (h: ReturnType<typeof harness>) => h.events.emit('unhandledRejection', boom('y')),
      line: 'unhandled rejection, exiting: Error: y\n    at thrower (file.js:1:1) | Main',
    },
    {
      name: 'an unhandled rejection of a plain value',
      crash: (h: ReturnType<typeof harness>) => h.events.emit('unhandledRejection', { code: 'E' }),
      line: "unhandled rejection, exiting: { code: 'E' } | Main",
    },
    {
      name: 'a failure main caught itself',
      crash: (h: ReturnType<typeof harness>) => h.failed(boom('z')),
      line: 'failed to start, exiting: Error: z\n    at thrower (file.js:1:1) | Main',
    },
  ])('should log $name with its stack, clean up, then exit 1', ({ crash, line }) => {
    const h = harness();
    crash(h);
    expect(h.lines).toEqual([line]);
    expect(h.order).toEqual(['cleanup', 'exit']);
    expect(h.exit).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('should still exit 1 when the cleanup fails', () => {
    const h = harness(() => {
      throw new Error('EACCES');
    });
    h.events.emit('uncaughtException', boom('x'));
    expect(h.lines[1]).toMatch(/^while exiting after a crash: Error: EACCES/);
    expect(h.exit).toHaveBeenCalledExactlyOnceWith(1);
  });
});
