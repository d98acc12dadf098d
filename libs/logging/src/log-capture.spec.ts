import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { captureNestLogs, silenceNestLogs } from './log-capture.js';

function spyOnOutput(): string[] {
  const written: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    });
  }
  return written;
}

describe("Nest's Logger in unit tests", () => {
  afterEach(() => {
    silenceNestLogs();
    vi.restoreAllMocks();
  });

  it('is silent by default (the unit setup silences it)', () => {
    const written = spyOnOutput();
    new Logger('HealthServer').log('serving /healthz');
    new Logger('EtcdStore').error('boom', 'Error: boom\n    at x (x.js:1:1)');
    Logger.warn('static warn', 'Anywhere');
    expect(written).toEqual([]);
  });

  it('writes formatted lines into a capture, and nothing to the process', () => {
    const written = spyOnOutput();
    const logs = captureNestLogs('info');
    new Logger('AddressFeed').warn('watch stopped\nforged line');
    new Logger('AddressFeed').debug('below the level');
    Logger.log('static', 'Main');
    expect(logs.lines).toEqual([
      expect.stringMatching(/^\S+Z WARN {2}\[AddressFeed] watch stopped\\nforged line$/),
      expect.stringMatching(/^\S+Z INFO {2}\[Main] static$/),
    ]);
    expect(written).toEqual([]);
  });

  it('stops capturing on restore', () => {
    const logs = captureNestLogs();
    new Logger('A').log('one');
    logs.restore();
    new Logger('A').log('two');
    expect(logs.lines).toEqual([expect.stringContaining('[A] one')]);
  });
});
