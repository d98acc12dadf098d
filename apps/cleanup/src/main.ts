import { readVersion } from '../../ipam/src/cli.js';
import { parseArgs, USAGE } from './cli.js';

/**
 * Entry point of bin/kontena-ipam-cleanup. Nest, etcd3 and dockerode are loaded only when a run
 * is going to happen, so `--help`, `--version` and usage errors answer at once.
 */
async function main(): Promise<number> {
  const action = parseArgs(process.argv.slice(2));
  if (action.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (action.kind === 'version') {
    // Read as `kontena-ipam --version` reads it: one package, one version.
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  if (action.kind === 'usage-error') {
    process.stderr.write(
      `kontena-ipam-cleanup: ${action.message}\n(kontena-ipam-cleanup --help lists the options)\n`,
    );
    return 2;
  }
  const { runCleanupApp } = await import('./bootstrap.js');
  return runCleanupApp(action);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(
      `kontena-ipam-cleanup: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 1;
  },
);
