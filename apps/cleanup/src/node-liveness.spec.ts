import { describe, expect, it } from 'vitest';

import type { StoredRegistration } from '#app/store';

import { forgetConflicts, passConflicts } from './node-liveness.js';

const on = (host: string, instance = host): StoredRegistration => ({
  node: 'node-1',
  instance,
  record: { host, pid: 1, started: '2026-12-06T21:00:00.000Z', version: '0.3.0', ttl: 10 },
  createRevision: '5',
});

describe('passConflicts (a pass on host a)', () => {
  it.each([
    { name: 'no plugin registered', listed: [], conflicts: [] },
    { name: "this host's plugin", listed: [on('a')], conflicts: [] },
    { name: 'a plugin on another host', listed: [on('b')], conflicts: ['b'] },
    {
      name: 'a registration without a host',
      listed: [{ ...on('a', 'x'), record: {} }],
      conflicts: ['x'],
    },
    {
      name: "this host's plugin and one elsewhere",
      listed: [on('a'), on('b')],
      conflicts: ['a', 'b'],
    },
    {
      name: 'two plugins on this host',
      listed: [on('a', 'a1'), on('a', 'a2')],
      conflicts: ['a1', 'a2'],
    },
  ])('$name', ({ listed, conflicts }) => {
    expect(passConflicts(listed, 'a').map((r) => r.instance)).toEqual(conflicts);
  });
});

describe('forgetConflicts', () => {
  it.each([
    { name: 'no plugin registered', listed: [], conflicts: [] },
    { name: 'its plugin on its host', listed: [on('b')], conflicts: ['b'] },
    { name: 'its plugin on this host', listed: [on('a')], conflicts: ['a'] },
  ])('$name', ({ listed, conflicts }) => {
    expect(forgetConflicts(listed).map((r) => r.instance)).toEqual(conflicts);
  });
});
