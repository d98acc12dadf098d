import { describe, expect, it } from 'vitest';

import { ago, bar, percent, table } from './table.js';

describe('table', () => {
  it('should pad each column to its widest cell, numbers to the right', () => {
    expect(
      table(
        [{ title: 'POOL' }, { title: 'SIZE', right: true }, { title: 'NOTE' }],
        [
          ['blue', '254', ''],
          ['a-long-name', '65534', 'x'],
        ],
      ),
    ).toEqual(['POOL          SIZE  NOTE', 'blue           254', 'a-long-name  65534  x']);
  });
});

describe('bar and percent', () => {
  it.each([
    { name: 'empty pool', used: 0n, total: 254n, bar: '[....................]', pct: '0.0%' },
    {
      name: 'one address shows',
      used: 1n,
      total: 254n,
      bar: '[#...................]',
      pct: '0.4%',
    },
    { name: 'half', used: 127n, total: 254n, bar: '[##########..........]', pct: '50.0%' },
    { name: 'full', used: 254n, total: 254n, bar: '[####################]', pct: '100.0%' },
    {
      name: 'over full (a hand edit)',
      used: 300n,
      total: 254n,
      bar: '[####################]',
      pct: '118.1%',
    },
    {
      name: 'size 0 (unparsable subnet)',
      used: 3n,
      total: 0n,
      bar: '[#...................]',
      pct: '-',
    },
    {
      name: 'a /64 beyond 2^53',
      used: 1n << 62n,
      total: (1n << 64n) - 1n,
      bar: '[#####...............]',
      pct: '25.0%',
    },
  ])('$name', ({ used, total, bar: expectedBar, pct }) => {
    expect(bar(used, total)).toBe(expectedBar);
    expect(percent(used, total)).toBe(pct);
  });
});

describe('ago', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  it.each([
    { time: undefined, expected: '-' },
    { time: 'not a time', expected: '-' },
    { time: '2026-12-07T12:00:05Z', expected: '0s' }, // a clock ahead of ours
    { time: '2026-12-07T11:59:00Z', expected: '60s' },
    { time: '2026-12-07T11:50:00Z', expected: '10m' },
    { time: '2026-12-07T06:00:00Z', expected: '6h' },
    { time: '2026-12-01T12:00:00Z', expected: '6d' },
  ])('$time is $expected ago', ({ time, expected }) => {
    expect(ago(time, now)).toBe(expected);
  });
});
