import { describe, expect, it } from 'vitest';

import { parseSupernetList, shortestDefaultLength } from './supernet-list.js';

const entries = (text: string, family: 4 | 6): [string, number | undefined][] | string => {
  const parsed = parseSupernetList(text, family);
  return parsed.ok ? parsed.entries.map((e) => [e.prefix.toString(), e.length]) : parsed.why;
};

describe('parseSupernetList', () => {
  it.each([
    // edge rows first: one entry at either end of the lengths, then lists
    { text: '0.0.0.0/0', family: 4, want: [['0.0.0.0/0', undefined]] },
    { text: '10.0.0.0/30:30', family: 4, want: [['10.0.0.0/30', 30]] },
    { text: '0.0.0.0/0:8', family: 4, want: [['0.0.0.0/0', 8]] },
    {
      text: '10.80.0.0/12:24,172.30.0.0/16:26',
      family: 4,
      want: [
        ['10.80.0.0/12', 24],
        ['172.30.0.0/16', 26],
      ],
    },
    {
      text: ' 172.30.0.0/16 , 10.80.0.0/12:20 ,',
      family: 4,
      want: [
        ['172.30.0.0/16', undefined],
        ['10.80.0.0/12', 20],
      ],
    },
    { text: 'fd00:1::/48', family: 6, want: [['fd00:1::/48', undefined]] },
    { text: 'fd00:1::/48:64', family: 6, want: [['fd00:1::/48', 64]] },
    { text: 'FD00:0001:0:0::/56:120', family: 6, want: [['fd00:1::/56', 120]] },
    {
      text: 'fd00:1::/48:64,fd00:2::/48',
      family: 6,
      want: [
        ['fd00:1::/48', 64],
        ['fd00:2::/48', undefined],
      ],
    },
  ] as const)('should parse $text', ({ text, family, want }) => {
    expect(entries(text, family)).toEqual(want);
  });

  it.each([
    { text: '', family: 4, why: /^must list at least one network$/ },
    { text: '10.0.0.0/12:7', family: 4, why: /from 12 to 30/ },
    { text: '0.0.0.0/0:7', family: 4, why: /from 8 to 30/ },
    { text: '10.0.0.0/12:+24', family: 4, why: /has subnet length :\+24/ },
    { text: '10.0.0.0/12:24:25', family: 4, why: /has subnet length :24:25/ },
    { text: '10.0.0.0:24', family: 4, why: /CIDR notation/ },
    { text: '10.0.0.0/12,10.0.0.0/12', family: 4, why: /^item 2 \(10.0.0.0\/12\) overlaps item 1/ },
    { text: '10.0.0.0/8,10.1.0.0/16', family: 4, why: /overlaps item 1 \(10.0.0.0\/8\)/ },
    { text: 'fd00:1::/48:47', family: 6, why: /from 48 to 120/ },
    { text: 'fd00:1::/48:121', family: 6, why: /from 48 to 120/ },
    { text: 'fd00:1::/121', family: 6, why: /at most 120/ },
    { text: 'fe80::/64', family: 6, why: /^overlaps fe80::\/10/ },
    { text: '10.0.0.0/8', family: 6, why: /is an IPv4 network/ },
    { text: 'fd00::/8', family: 4, why: /is an IPv6 network/ },
  ] as const)('should refuse $text', ({ text, family, why }) => {
    expect(entries(text, family)).toMatch(why);
  });
});

describe('shortestDefaultLength', () => {
  it.each([
    { text: '10.80.0.0/12', family: 4, want: { length: 12, entries: 1 } },
    { text: '0.0.0.0/0', family: 4, want: { length: 8, entries: 1 } },
    // only the entries without a length of their own count
    { text: '10.80.0.0/12,192.168.0.0/26:28', family: 4, want: { length: 12, entries: 2 } },
    { text: '10.80.0.0/12:24,192.168.0.0/26:28', family: 4, want: { length: 8, entries: 2 } },
    { text: 'fd00::/56,fd01::/52', family: 6, want: { length: 56, entries: 2 } },
    { text: 'fd00::/32', family: 6, want: { length: 48, entries: 1 } },
    { text: 'nonsense', family: 4, want: undefined },
  ] as const)('$text -> $want', ({ text, family, want }) => {
    expect(shortestDefaultLength(text, family)).toEqual(want);
  });
});
