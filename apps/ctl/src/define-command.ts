import { wantsHelp } from './args.js';
import { EXIT, type CtlCommand } from './command.js';
import { usageError } from './ctl-app.js';

/**
 * A command from its parts: `--help` prints `usage`; `parse` reads the line (a string is a usage
 * error, exit 2); `load` imports the code that runs it (Nest, etcd3, dockerode) only then.
 */
export function defineCommand<R>(parts: {
  name: string;
  summary: string;
  usage: string;
  parse: (args: readonly string[]) => R | string;
  load: () => Promise<(request: R) => Promise<number>>;
}): CtlCommand {
  const { name, summary, usage, parse, load } = parts;
  return {
    name,
    summary,
    usage,
    async run(args) {
      if (wantsHelp(args)) {
        process.stdout.write(usage);
        return EXIT.ok;
      }
      const request = parse(args);
      if (typeof request === 'string') {
        return usageError(name, request);
      }
      const run = await load();
      return run(request);
    },
  };
}
