import { afterEach, describe, expect, it, vi } from 'vitest';

import type { LogLevelName } from '#app/config';

import { IpamLogger, STDERR_ONLY, STDOUT_AND_STDERR, type LogOutput } from './ipam-logger.js';
import { jsonFormat, type LogFormat } from './log-format.js';

function capture(level: LogLevelName, format?: LogFormat) {
  const out: string[] = [];
  const err: string[] = [];
  const logger = new IpamLogger(
    level,
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    format,
  );
  return { logger, out, err };
}

describe('IpamLogger', () => {
  it.each([
    { level: 'debug' as const, shown: ['debug', 'verbose', 'log', 'warn', 'error', 'fatal'] },
    { level: 'info' as const, shown: ['log', 'warn', 'error', 'fatal'] },
    { level: 'warn' as const, shown: ['warn', 'error', 'fatal'] },
    { level: 'error' as const, shown: ['error', 'fatal'] },
  ])('LOG_LEVEL=$level', ({ level, shown }) => {
    const { logger, out, err } = capture(level);
    logger.debug('debug', 'Ctx');
    logger.verbose('verbose', 'Ctx');
    logger.log('log', 'Ctx');
    logger.warn('warn', 'Ctx');
    logger.error('error', 'Ctx');
    logger.fatal('fatal', 'Ctx');
    const lines = [...out, ...err].map((l) => l.split(' ').at(-1)?.trim());
    expect(lines).toHaveLength(shown.length);
    expect(new Set(lines)).toEqual(new Set(shown));
  });

  it('writes one line with time, level and context; warn and error to err', () => {
    const { logger, out, err } = capture('debug');
    logger.log('serving', 'PluginSocket');
    logger.warn('careful', 'PluginCall');
    logger.warn('no context');
    expect(out).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}\[PluginSocket] serving\n$/),
    ]);
    expect(err).toEqual([
      expect.stringMatching(/Z WARN {2}\[PluginCall] careful\n$/),
      expect.stringMatching(/Z WARN {2}no context\n$/),
    ]);
  });

  it.each([
    { name: 'with a context', params: ['Error: boom\n    at x (file.js:1:1)', 'Filter'] },
    { name: 'without a context', params: ['Error: boom\n    at x (file.js:1:1)'] },
  ])("puts error's stack after the message, on the same line: $name", ({ params }) => {
    const { logger, err } = capture('error');
    logger.error('boom', ...params);
    expect(err).toHaveLength(1);
    const context = params.length > 1 ? '[Filter] ' : '';
    expect(err[0]).toMatch(/Z ERROR /);
    expect(err[0]).toContain(`${context}boom Error: boom\\n    at x (file.js:1:1)\n`);
  });

  it('renders an Error and an object given as extra parameters', () => {
    const { logger, err } = capture('warn');
    logger.warn('failed', { pool: 'p' }, 'Ctx');
    logger.warn(new TypeError('bad'), 'Ctx');
    expect(err[0]).toContain('[Ctx] failed {"pool":"p"}\n');
    expect(err[1]).toContain('[Ctx] TypeError: bad\\n    at ');
  });

  it.each([
    {
      name: 'RouterExplorer',
      context: 'RouterExplorer',
      text: 'Mapped {/Plugin.Activate, POST} route',
    },
    {
      name: 'InstanceLoader',
      context: 'InstanceLoader',
      text: 'AppModule dependencies initialized',
    },
    { name: 'NestFactory', context: 'NestFactory', text: 'Starting Nest application...' },
  ])("demotes Nest's bootstrap chatter to debug: $name", ({ context, text }) => {
    const info = capture('info');
    info.logger.log(text, context);
    expect(info.out).toEqual([]);
    const debug = capture('debug');
    debug.logger.log(text, context);
    expect(debug.out).toEqual([expect.stringContaining(`DEBUG [${context}] ${text}`)]);
  });

  it('keeps every event on one line, whatever a request put into the message', () => {
    const { logger, err } = capture('debug');
    logger.warn(
      'POST /IpamDriver.RequestPool 400: pool x\n2026-01-01T00:00:00.000Z INFO  forged',
      'PluginCall',
    );
    expect(err).toHaveLength(1);
    expect(err[0]?.split('\n')).toEqual([
      expect.stringContaining('pool x\\n2026-01-01T00:00:00.000Z INFO  forged'),
      '',
    ]);
  });

  it('formats each record with the format it was given', () => {
    const { logger, out } = capture('info', (r) => `${r.level}|${r.context ?? '-'}|${r.message}`);
    logger.log('hello', 'Ctx');
    logger.log('bare');
    expect(out).toEqual(['info|Ctx|hello\n', 'info|-|bare\n']);
  });
});

describe('IpamLogger outputs', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const cases: { name: string; output: LogOutput; stdout: string[]; stderr: string[] }[] = [
    {
      name: 'STDOUT_AND_STDERR: info on stdout, warn and error on stderr',
      output: STDOUT_AND_STDERR,
      stdout: ['info'],
      stderr: ['warn', 'error'],
    },
    {
      name: 'STDERR_ONLY: stdout stays free for a report',
      output: STDERR_ONLY,
      stdout: [],
      stderr: ['info', 'warn', 'error'],
    },
  ];

  it.each(cases)('$name', ({ output, stdout, stderr }) => {
    const written = { stdout: [] as string[], stderr: [] as string[] };
    for (const stream of ['stdout', 'stderr'] as const) {
      vi.spyOn(process[stream], 'write').mockImplementation((chunk: unknown) => {
        written[stream].push(String(chunk).trim().split(' ').at(-1) ?? '');
        return true;
      });
    }
    const logger = new IpamLogger('info', output);
    logger.log('info');
    logger.warn('warn');
    logger.error('error');
    expect(written).toEqual({ stdout, stderr });
  });
});

describe('IpamLogger with events', () => {
  const event = {
    msg: 'allocated address 10.80.0.5 in pool blue to node n1',
    pool: 'blue',
    address: '10.80.0.5',
    node: 'n1',
  };

  it('prints only the message of an event as text, as ever', () => {
    const { logger, out } = capture('info');
    logger.log(event, 'AddressAllocator');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(
      /^\S+ INFO  \[AddressAllocator\] allocated address 10\.80\.0\.5 in pool blue to node n1\n$/,
    );
  });

  it('adds the fields of an event as JSON, and a stack after the message', () => {
    const { logger, out, err } = capture('info', jsonFormat);
    logger.log(event, 'AddressAllocator');
    logger.error('failed', 'Error: x\n    at y', 'Main');
    expect(JSON.parse(out[0] ?? '')).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: 'info',
      msg: event.msg,
      context: 'AddressAllocator',
      pool: 'blue',
      address: '10.80.0.5',
      node: 'n1',
    });
    expect(JSON.parse(err[0] ?? '')).toMatchObject({
      level: 'error',
      msg: 'failed Error: x\n    at y',
      context: 'Main',
    });
    expect(err[0]?.trimEnd()).not.toContain('\n');
  });
});
