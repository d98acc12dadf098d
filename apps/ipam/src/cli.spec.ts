import { describe, expect, it } from 'vitest';

import { parseArgs, readVersion } from './cli.js';

describe('parseArgs', () => {
  it.each([
    { args: [], kind: 'run' },
    { args: ['--help'], kind: 'help' },
    { args: ['-h'], kind: 'help' },
    { args: ['--version'], kind: 'version' },
    { args: ['-v'], kind: 'version' },
    { args: ['--bogus'], kind: 'usage-error' },
    { args: ['serve'], kind: 'usage-error' },
    { args: ['--version', 'extra'], kind: 'usage-error' },
  ])('$args -> $kind', ({ args, kind }) => {
    expect(parseArgs(args).kind).toBe(kind);
  });
});

describe('readVersion', () => {
  it("finds the repository's package.json from the source tree", () => {
    expect(readVersion(import.meta.url)).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('says unknown when there is none', () => {
    expect(readVersion('file:///nowhere/at/all.js')).toBe('unknown');
  });
});
