import { describe, expect, it } from 'vitest';

import { parseRepairArgs } from '../repair/repair.command.js';
import { importV2Command, parseImportArgs } from './import-v2.command.js';
import { capture } from '../../../../test/ctl/capture.js';

describe('parseImportArgs', () => {
  it.each([
    { name: 'nothing', args: [], error: /--from URL is required/ },
    {
      name: 'a bare host',
      args: ['--from', 'etcd:2379'],
      error: /expected an http:\/\/ or https:\/\/ URL/,
    },
    { name: 'no URL at all', args: ['--from', 'not a url'], error: /not a URL/ },
    { name: 'an unknown option', args: ['--from', 'http://e:2379', '--force'], error: /--force/ },
    { name: 'a positional', args: ['http://e:2379'], error: /http:\/\/e:2379/ },
  ])('should refuse $name', ({ args, error }) => {
    const parsed = parseImportArgs(args);
    expect(typeof parsed === 'string' ? parsed : '').toMatch(error);
  });

  it('should take --from, --dry-run and --json', () => {
    expect(parseImportArgs(['--from', 'https://e:2379', '--dry-run', '--json'])).toEqual({
      from: new URL('https://e:2379'),
      dryRun: true,
      json: true,
    });
  });
});

describe('parseRepairArgs', () => {
  it.each([
    { args: [], want: { dryRun: false, json: false } },
    { args: ['--dry-run'], want: { dryRun: true, json: false } },
    { args: ['--pool', 'x'], want: expect.stringMatching(/--pool/) },
  ])('$args', ({ args, want }) => {
    expect(parseRepairArgs(args)).toEqual(want);
  });
});

describe('a ctl command before it loads anything', () => {
  it('should print its usage on --help and exit 0', async () => {
    const c = capture();
    expect(await importV2Command.run(['--help'], c.io)).toBe(0);
    expect(c.lines.join('\n')).toMatch(/^Usage: kontena-ipam-ctl import-v2 --from URL/);
    expect(c.errors).toEqual([]);
  });

  it('should name the command and where to look on a usage error, and exit 2', async () => {
    const c = capture();
    expect(await importV2Command.run(['--dry-run'], c.io)).toBe(2);
    expect(c.errors).toEqual([
      'kontena-ipam-ctl import-v2: --from URL is required: the etcd that holds the 0.2 keys (v2 API)',
      '(kontena-ipam-ctl import-v2 --help lists the options)',
    ]);
  });
});
