import { wantsHelp } from './args.js';
import { complain, EXIT, PROCESS_IO, type CtlCommand, type CtlRun } from './command.js';

/**
 * A command from its parts: `--help` prints `usage` (exit 0); `parse` reads the line (a string
 * is a usage error: said with where the help is, exit 2); `load` imports the code that runs the
 * request (Nest, etcd3, dockerode) only then. This file imports none of them.
 */
export function defineCommand<R>(parts: {
  name: string;
  summary: string;
  usage: string;
  parse: (args: readonly string[]) => R | string;
  load: () => Promise<(request: R, run: CtlRun) => Promise<number>>;
}): CtlCommand {
  const { name, summary, usage, parse, load } = parts;
  return {
    name,
    summary,
    usage,
    async run(args, io = PROCESS_IO) {
      const run: CtlRun = { ...io, name };
      if (wantsHelp(args)) {
        io.output.stdout(usage);
        return EXIT.ok;
      }
      const request = parse(args);
      if (typeof request === 'string') {
        complain(run, `${request}\n(kontena-ipam-ctl ${name} --help lists the options)`);
        return EXIT.usage;
      }
      const job = await load();
      return job(request, run);
    },
  };
}
