import { describe, expect, it } from 'vitest';

import { DEFAULT_QUIESCE_SECONDS, parseArgs } from './cli.js';

const defaults = {
  dryRun: false,
  quiesceSeconds: DEFAULT_QUIESCE_SECONDS,
  yes: false,
  force: false,
  json: false,
};

describe('parseArgs', () => {
  it.each([
    { args: [], options: defaults },
    { args: ['--dry-run'], options: { ...defaults, dryRun: true } },
    { args: ['--json'], options: { ...defaults, json: true } },
    { args: ['--quiesce', '0'], options: { ...defaults, quiesceSeconds: 0 } },
    { args: ['--quiesce=3600'], options: { ...defaults, quiesceSeconds: 3600 } },
    { args: ['--quiesce', '0.5'], options: { ...defaults, quiesceSeconds: 0.5 } },
    { args: ['--pool', 'kontena'], options: { ...defaults, pool: 'kontena' } },
    { args: ['--pool', 'kontena:v6'], options: { ...defaults, pool: 'kontena:v6' } },
    {
      args: ['--pool=local-6f1c2a44-1e9d-4a55-9a0c-5d6f2d9e7b10'],
      options: { ...defaults, pool: 'local-6f1c2a44-1e9d-4a55-9a0c-5d6f2d9e7b10' },
    },
    {
      args: ['--driver', 'kontena/ipam:latest'],
      options: { ...defaults, driver: 'kontena/ipam:latest' },
    },
    { args: ['--force'], options: { ...defaults, force: true } },
    { args: ['--force', '--dry-run'], options: { ...defaults, force: true, dryRun: true } },
    {
      args: ['--forget-node', 'old-host', '--yes'],
      options: { ...defaults, forgetNode: 'old-host', yes: true },
    },
    {
      args: ['--forget-node=old-host', '--dry-run', '--json', '--pool', 'kontena'],
      options: { ...defaults, forgetNode: 'old-host', dryRun: true, json: true, pool: 'kontena' },
    },
  ])('$args -> run', ({ args, options }) => {
    expect(parseArgs(args)).toEqual({ kind: 'run', options });
  });

  it.each([
    { args: ['--check'], json: false },
    { args: ['--check', '--json'], json: true },
    { args: ['--json', '--check'], json: true },
  ])('$args -> check', ({ args, json }) => {
    expect(parseArgs(args)).toEqual({ kind: 'check', json });
  });

  it.each([
    ['--help'],
    ['-h'],
    ['--dry-run', '--help'],
    ['--bogus', '-h'],
    ['--check', '--help'],
    ['--version', '--help'],
    ['-vh'],
  ])('%s -> help', (...args) => {
    expect(parseArgs(args)).toEqual({ kind: 'help' });
  });

  it.each([['--version'], ['-v']])('%s -> version', (...args) => {
    expect(parseArgs(args)).toEqual({ kind: 'version' });
  });

  it.each([
    { args: ['--bogus'], message: 'unknown option: --bogus' },
    { args: ['-x'], message: 'unknown option: -x' },
    { args: ['--'], message: 'unknown option: --' },
    { args: ['--', '--dry-run'], message: 'unknown option: --' },
    { args: ['--dry-run=yes'], message: '--dry-run takes no value' },
    { args: ['--version', '--json'], message: '--version combines with no other option' },
    { args: ['-v', 'now'], message: 'unexpected argument: now' },
    { args: ['pass'], message: 'unexpected argument: pass' },
    { args: ['--pool'], message: '--pool needs a value' },
    { args: ['--pool='], message: '--pool needs a value' },
    { args: ['--pool', 'a', '--pool', 'b'], message: '--pool is given twice' },
    { args: ['--pool=a', '--pool', 'a'], message: '--pool is given twice' },
    { args: ['--dry-run', '--pool'], message: '--pool needs a value' },
    { args: ['--pool', '--dry-run'], message: 'is not a pool name' },
    { args: ['--pool', 'a/b'], message: 'is not a pool name' },
    { args: ['--pool', '-x'], message: 'is not a pool name' },
    { args: ['--pool', 'kontena:v4'], message: 'is not a pool name' },
    { args: ['--quiesce', '-1'], message: 'from 0 to 3600' },
    { args: ['--quiesce', '3601'], message: 'from 0 to 3600' },
    { args: ['--quiesce', 'ten'], message: 'from 0 to 3600' },
    { args: ['--quiesce', '1e3'], message: 'from 0 to 3600' },
    { args: ['--driver', 'bad name'], message: 'is not a Docker plugin name' },
    { args: ['--yes'], message: '--yes only confirms --forget-node' },
    { args: ['--forget-node', 'old-host'], message: 'add --yes, or --dry-run' },
    { args: ['--forget-node', 'a/b', '--yes'], message: 'is not a NODE_ID' },
    { args: ['--forget-node', 'a b', '--yes'], message: 'is not a NODE_ID' },
    {
      args: ['--forget-node', 'x', '--yes', '--quiesce', '1'],
      message: 'do not apply to --forget-node',
    },
    {
      args: ['--forget-node', 'x', '--yes', '--driver', 'd'],
      message: 'do not apply to --forget-node',
    },
    { args: ['--force=1'], message: '--force takes no value' },
    {
      args: ['--forget-node', 'x', '--yes', '--force'],
      message: '--force does not apply to --forget-node',
    },
    { args: ['--check', '--force'], message: 'combines only with --json, not with --force' },
    { args: ['--check', '--dry-run'], message: 'combines only with --json, not with --dry-run' },
    {
      args: ['--check', '--forget-node', 'x', '--yes'],
      message: 'combines only with --json, not with --forget-node, --yes',
    },
    { args: ['--check', '--pool', 'blue'], message: 'not with --pool' },
    { args: ['--check', '--quiesce', '0'], message: 'not with --quiesce' },
    { args: ['--check', '--driver', 'd'], message: 'not with --driver' },
    { args: ['--check', 'now'], message: 'unexpected argument: now' },
  ])('$args -> usage error', ({ args, message }) => {
    const action = parseArgs(args);
    expect(action.kind).toBe('usage-error');
    expect(action.kind === 'usage-error' ? action.message : '').toContain(message);
  });
});
