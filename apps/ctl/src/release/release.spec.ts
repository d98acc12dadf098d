import { describe, expect, it } from 'vitest';

import type { StoredAddress } from '#app/store';

import { refuseRelease } from './release-decision.js';
import { parseRelease } from './release.command.js';

const held = (node: string, type?: string): StoredAddress => ({
  ip: '10.80.0.5',
  // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- 'aux' is written by newer plugins
  record: { address: '10.80.0.5/24', node, ...(type ? { type: type as 'gateway' } : {}) },
  createRevision: '5',
  modRevision: '5',
});

describe('refuseRelease', () => {
  it.each([
    { name: "this node's endpoint", address: held('n1'), force: false, refused: undefined },
    {
      name: "this node's untyped address",
      address: held('n1', 'endpoint'),
      force: false,
      refused: undefined,
    },
    {
      name: 'the gateway',
      address: held('n1', 'gateway'),
      force: false,
      refused: /is the gateway of pool blue/,
    },
    {
      name: 'the gateway with --force',
      address: held('n1', 'gateway'),
      force: true,
      refused: /gateway/,
    },
    {
      name: 'an aux reservation',
      address: held('n1', 'aux'),
      force: true,
      refused: /aux reservation/,
    },
    {
      name: "another node's",
      address: held('n2'),
      force: false,
      refused: /held by node n2, not by this node \(NODE_ID n1\)/,
    },
    { name: "another node's with --force", address: held('n2'), force: true, refused: undefined },
    {
      name: 'an address without owner',
      address: held(''),
      force: false,
      refused: /held by node \(none\)/,
    },
  ])('$name', ({ address, force, refused }) => {
    const result = refuseRelease('blue', address, 'n1', force) ?? 'may go';
    expect(result).toMatch(refused ?? /^may go$/);
  });
});

describe('parseRelease', () => {
  it('should read POOL, ADDRESS and --force', () => {
    const r = parseRelease(['blue', '10.80.0.5', '--force']);
    expect(typeof r === 'object' && [r.pool, r.ip.toString(), r.force]).toEqual([
      'blue',
      '10.80.0.5',
      true,
    ]);
  });

  it.each([
    { args: [], message: /needs a POOL and an ADDRESS/ },
    { args: ['blue'], message: /needs a POOL and an ADDRESS/ },
    { args: ['blue', '10.80.0.5', 'x'], message: /unexpected argument: x/ },
    { args: ['blue', '10.80.0.5/24'], message: /is not an IP address \(without \/length\)/ },
    { args: ['-blue', '10.80.0.5'], message: /Unknown option '-b'/ },
    { args: ['bl ue', '10.80.0.5'], message: /is not a pool name/ },
  ])('should refuse $args', ({ args, message }) => {
    expect(parseRelease(args)).toMatch(message);
  });
});
