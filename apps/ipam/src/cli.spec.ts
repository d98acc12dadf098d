import { describe, expect, it } from 'vitest';

import { existsSync } from 'node:fs';

import { parseArgs, readVersion, usage, USAGE } from './cli.js';

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

// Issue #19: --help pointed at a README the image did not hold.
describe('usage', () => {
  it('should point at the README and docs/ of this checkout, which exist', () => {
    const text = usage(import.meta.url);
    const match = /^See (\S+README\.md) and (\S+docs)\/ for details\.$/m.exec(text);
    expect(match).not.toBeNull();
    expect(existsSync(match?.[1] ?? '')).toBe(true);
    expect(existsSync(match?.[2] ?? '')).toBe(true);
  });

  it('should point at nothing where there is no README', () => {
    const text = usage('file:///nowhere/at/all.js');
    expect(text).toBe(USAGE);
    expect(text).not.toMatch(/README/);
  });
});
