import { parseArgs, readVersion, USAGE } from './cli.js';

/**
 * Entry point of bin/kontena-ipam. The app is imported only when it is going to run, so
 * `--help` and `--version` answer without loading Nest and etcd3.
 */
async function main(): Promise<void> {
  const action = parseArgs(process.argv.slice(2));
  switch (action.kind) {
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`${readVersion()}\n`);
      return;
    case 'usage-error':
      process.stderr.write(`kontena-ipam: ${action.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    case 'run': {
      const { start } = await import('./bootstrap.js');
      await start(readVersion());
      return;
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(
    `kontena-ipam: failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
