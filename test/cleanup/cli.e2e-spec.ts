// The built CLI's answers that need neither etcd nor Docker: --version (the package's, as
// `kontena-ipam --version` prints it), --help, and a usage error's exit status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runCleanupCli } from './cleanup-process.js';

const ROOT = join(import.meta.dirname, '../..');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
};
/** No etcd, no Docker: these answers come before either is asked. */
const env = { ETCD_ENDPOINT: 'http://127.0.0.1:1', DOCKER_HOST: 'unix:///nonexistent.sock' };

describe('kontena-ipam-cleanup without etcd or Docker', () => {
  it.each([
    { name: 'long', args: ['--version'] },
    { name: 'short', args: ['-v'] },
  ])('should print the package version for $name --version, and exit 0', async ({ args }) => {
    const result = await runCleanupCli(args, env, 10_000);
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('should print the help, naming --version, and exit 0', async () => {
    const result = await runCleanupCli(['--help'], env, 10_000);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: kontena-ipam-cleanup/);
    expect(result.stdout).toContain('-v, --version');
  });

  it('should exit 2 on bad usage, in one line and a hint', async () => {
    const result = await runCleanupCli(['--version', '--json'], env, 10_000);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'kontena-ipam-cleanup: --version combines with no other option\n' +
        '(kontena-ipam-cleanup --help lists the options)\n',
    });
  });
});
