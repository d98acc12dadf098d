import { describe, expect, it } from 'vitest';

import { CleanupLogger } from './cleanup-logger.js';

function capture(level: 'debug' | 'info' | 'warn' | 'error') {
  const lines: string[] = [];
  return { logger: new CleanupLogger(level, (line) => lines.push(line)), lines };
}

describe('CleanupLogger', () => {
  it('should write one line per event with time, level and context', () => {
    const { logger, lines } = capture('info');
    logger.log('freed 10.80.0.5', 'Cleanup');
    logger.warn('careful');
    expect(lines).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}\[Cleanup\] freed 10\.80\.0\.5\n$/),
      expect.stringMatching(/Z WARN {2}careful\n$/),
    ]);
  });

  it.each([
    { level: 'debug', expected: 4 },
    { level: 'info', expected: 3 },
    { level: 'warn', expected: 2 },
    { level: 'error', expected: 1 },
  ] as const)('should honour LOG_LEVEL=$level', ({ level, expected }) => {
    const { logger, lines } = capture(level);
    logger.debug('d');
    logger.log('i');
    logger.warn('w');
    logger.error('e');
    expect(lines).toHaveLength(expected);
  });

  it("should demote Nest's wiring chatter to debug and keep a stack off the context", () => {
    const { logger, lines } = capture('info');
    logger.log('CleanupModule dependencies initialized', 'InstanceLoader');
    logger.error('boom', 'Error: boom\n    at somewhere (x.js:1:1)');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('ERROR boom Error: boom\n    at somewhere');
  });
});
