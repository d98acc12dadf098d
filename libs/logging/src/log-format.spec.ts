import { describe, expect, it } from 'vitest';

import { escapeControlCharacters, jsonFormat, logFormatNamed, textFormat } from './log-format.js';

describe('escapeControlCharacters', () => {
  const cases = [
    // edge rows
    { name: 'empty string', text: '', expected: '' },
    { name: 'only a newline', text: '\n', expected: '\\n' },
    { name: 'NUL', text: 'a\0b', expected: 'a\\u0000b' },
    // rules
    {
      name: 'plain text is kept',
      text: 'pool kontena-1 10.80.0.0/24',
      expected: 'pool kontena-1 10.80.0.0/24',
    },
    { name: 'non-ASCII letters are kept', text: 'knoten-ü', expected: 'knoten-ü' },
    { name: 'a backslash is kept', text: 'a\\nb', expected: 'a\\nb' },
    {
      name: 'a newline cannot start a forged line',
      text: 'x\n2026-01-01T00:00:00.000Z INFO  [Main] forged',
      expected: 'x\\n2026-01-01T00:00:00.000Z INFO  [Main] forged',
    },
    { name: 'carriage return', text: 'a\rb', expected: 'a\\rb' },
    { name: 'tab', text: 'a\tb', expected: 'a\\tb' },
    { name: 'terminal escape', text: '\u001b[2J', expected: '\\u001b[2J' },
    { name: 'DEL', text: '\u007f', expected: '\\u007f' },
    { name: 'C1 next line', text: 'a\u0085b', expected: 'a\\u0085b' },
    { name: 'Unicode line separator', text: 'a\u2028b', expected: 'a\\u2028b' },
    { name: 'Unicode paragraph separator', text: 'a\u2029b', expected: 'a\\u2029b' },
  ];
  it.each(cases)('$name', ({ text, expected }) => {
    expect(escapeControlCharacters(text)).toBe(expected);
  });
});

describe('textFormat', () => {
  const time = new Date('2026-01-02T03:04:05.678Z');
  const cases = [
    {
      name: 'without context',
      record: { time, level: 'warn' as const, context: undefined, message: 'careful' },
      expected: '2026-01-02T03:04:05.678Z WARN  careful',
    },
    {
      name: 'with context',
      record: { time, level: 'info' as const, context: 'PluginSocket', message: 'serving' },
      expected: '2026-01-02T03:04:05.678Z INFO  [PluginSocket] serving',
    },
    {
      name: 'control characters of message and context are escaped',
      record: { time, level: 'error' as const, context: 'A\nB', message: 'boom\n    at x' },
      expected: '2026-01-02T03:04:05.678Z ERROR [A\\nB] boom\\n    at x',
    },
  ];
  it.each(cases)('$name', ({ record, expected }) => {
    expect(textFormat(record)).toBe(expected);
  });
});

describe('jsonFormat', () => {
  const time = new Date('2026-12-07T01:02:03.004Z');
  it.each([
    {
      name: 'a line without context or fields',
      record: { time, level: 'info' as const, context: undefined, message: 'started' },
      expected: { time: '2026-12-07T01:02:03.004Z', level: 'info', msg: 'started', context: null },
    },
    {
      name: "an event's fields after the four keys, undefined ones left out",
      record: {
        time,
        level: 'warn' as const,
        context: 'PluginCall',
        message: 'POST /IpamDriver.RequestAddress 400 1.2ms: no',
        fields: {
          call: 'IpamDriver.RequestAddress',
          status: 400,
          duration: 1.2,
          endpoint: undefined,
        },
      },
      expected: {
        time: '2026-12-07T01:02:03.004Z',
        level: 'warn',
        msg: 'POST /IpamDriver.RequestAddress 400 1.2ms: no',
        context: 'PluginCall',
        call: 'IpamDriver.RequestAddress',
        status: 400,
        duration: 1.2,
      },
    },
    {
      name: 'fields never replace time, level, msg or context; bigints as text',
      record: {
        time,
        level: 'error' as const,
        context: 'X',
        message: 'real',
        fields: { msg: 'forged', level: 'debug', size: 1n << 64n },
      },
      expected: {
        time: '2026-12-07T01:02:03.004Z',
        level: 'error',
        msg: 'real',
        context: 'X',
        size: '18446744073709551616',
      },
    },
  ])('$name', ({ record, expected }) => {
    const line = jsonFormat(record);
    expect(JSON.parse(line)).toEqual(expected);
    expect(Object.keys(JSON.parse(line)).slice(0, 4)).toEqual(['time', 'level', 'msg', 'context']);
  });

  it('keeps a line one line whatever the message holds, and valid JSON', () => {
    const message = 'a\nb\r\u001b[2J\u007f\u0085\u2028\u2029"\\';
    const line = jsonFormat({ time, level: 'info', context: 'C', message });
    for (const raw of ['\n', '\r', '\u001b', '\u007f', '\u0085', '\u2028', '\u2029']) {
      expect(line).not.toContain(raw);
    }
    expect(JSON.parse(line).msg).toBe(message);
  });

  it('is the format LOG_FORMAT=json names; text stays the default', () => {
    expect(logFormatNamed('json')).toBe(jsonFormat);
    expect(logFormatNamed('text')).toBe(textFormat);
  });
});
