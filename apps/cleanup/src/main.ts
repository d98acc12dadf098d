import { parseArgs, USAGE } from './cli.js';

/**
 * Entry point of bin/kontena-ipam-cleanup. Nest, etcd3 and dockerode are loaded only when a run
 * is going to happen, so `--help` and usage errors answer at once.
 */
async function main(): Promise<number> {
  const action = parseArgs(process.argv.slice(2));
  if (action.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (action.kind === 'usage-error') {
    process.stderr.write(
      `kontena-ipam-cleanup: ${action.message}\n(kontena-ipam-cleanup --help lists the options)\n`,
    );
    return 2;
  }
  if (action.kind === 'check') {
    const { runCheck } = await import('./bootstrap.js');
    return runCheck(action.json);
  }
  const { runCleanup } = await import('./bootstrap.js');
  return runCleanup(action.options);
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
