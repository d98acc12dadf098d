import { earlySocketPath } from '#app/config/early';

import { parseArgs, readVersion, USAGE } from './cli.js';
import { PluginServer } from './plugin-server/plugin-server.js';

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
      // Until the app installs its own shutdown hooks, a stop signal just removes the socket.
      let early: PluginServer | undefined;
      let opening = true;
      let stopRequested = false;
      const stopEarly = (): void => {
        stopRequested = true;
        if (!opening) {
          void (early?.abandon() ?? Promise.resolve()).then(() => process.exit(0));
        }
      };
      process.on('SIGTERM', stopEarly);
      process.on('SIGINT', stopEarly);
      // The socket first: Docker may connect while Nest and etcd3 are still loading.
      early = await openSocketEarly();
      opening = false;
      if (stopRequested) {
        stopEarly();
      }
      const { start } = await import('./bootstrap.js');
      await start(readVersion(), early, () => {
        process.off('SIGTERM', stopEarly);
        process.off('SIGINT', stopEarly);
      });
      return;
    }
  }
}

/**
 * Opens the plugin socket with only node: modules loaded. An obviously bad socket path is left
 * to the full configuration check, which reports it with every other problem.
 */
async function openSocketEarly(): Promise<PluginServer | undefined> {
  const path = earlySocketPath();
  if (path === undefined) {
    return undefined;
  }
  try {
    return await PluginServer.open(path);
  } catch (e) {
    process.stderr.write(
      `kontena-ipam: cannot start: ${e instanceof Error ? e.message : String(e)}\n`,
    );
    return process.exit(1);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(
    `kontena-ipam: failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
