import { describe, expect, it } from 'vitest';

import { IpamLogger, type LogLevelName } from './ipam-logger.js';

function capture(level: LogLevelName) {
  const out: string[] = [];
  const err: string[] = [];
  const logger = new IpamLogger(level, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { logger, out, err };
}

describe('IpamLogger', () => {
  it.each([
    { level: 'debug' as const, shown: ['debug', 'verbose', 'log', 'warn', 'error'] },
    { level: 'info' as const, shown: ['log', 'warn', 'error'] },
    { level: 'warn' as const, shown: ['warn', 'error'] },
    { level: 'error' as const, shown: ['error'] },
  ])('LOG_LEVEL=$level', ({ level, shown }) => {
    const { logger, out, err } = capture(level);
    logger.debug('debug', 'Ctx');
    logger.verbose('verbose', 'Ctx');
    logger.log('log', 'Ctx');
    logger.warn('warn', 'Ctx');
    logger.error('error', 'Ctx');
    const lines = [...out, ...err].map((l) => l.split(' ').at(-1)?.trim());
    expect(lines).toHaveLength(shown.length);
    expect(new Set(lines)).toEqual(new Set(shown));
  });

  it('writes one line with time, level and context; warn and error to stderr', () => {
    const { logger, out, err } = capture('debug');
    logger.log('serving', 'PluginSocket');
    logger.warn('careful', 'PluginCall');
    expect(out).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\S+Z INFO  \[PluginSocket] serving\n$/),
    ]);
    expect(err).toEqual([expect.stringMatching(/WARN {2}\[PluginCall] careful\n$/)]);
  });

  it("puts error's stack after the message", () => {
    const { logger, err } = capture('error');
    logger.error('boom', 'Error: boom\n    at x (file.js:1:1)', 'Filter');
    expect(err[0]).toContain('[Filter] boom Error: boom\n    at x (file.js:1:1)');
  });

  it("demotes Nest's bootstrap chatter to debug", () => {
    const { logger, out } = capture('info');
    logger.log('Mapped {/Plugin.Activate, POST} route', 'RouterExplorer');
    logger.log('AppModule dependencies initialized', 'InstanceLoader');
    expect(out).toEqual([]);
  });
});
