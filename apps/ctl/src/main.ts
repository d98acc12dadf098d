import { readVersion } from '../../ipam/src/cli.js';
import { EXIT, type CtlCommand } from './command.js';
import { COMMANDS } from './commands.js';

/** `kontena-ipam-ctl --help`: the commands, one line each. */
export function mainUsage(commands: readonly CtlCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: kontena-ipam-ctl COMMAND [ARGS...]

Inspects and repairs the kontena-ipam address plan in etcd (the plugin's ETCD_* environment).

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

kontena-ipam-ctl COMMAND --help shows a command's usage.
  -h, --help     show this help and exit
  -v, --version  print the version and exit

Exit status: 0 ok, 1 problems found, 2 usage or configuration, 3 etcd unreachable
(docs/ctl.md).
`;
}

/** Entry point of bin/kontena-ipam-ctl: the command's name, then the command's own line. */
async function main(args: readonly string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(mainUsage(COMMANDS));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`${readVersion()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(
      `kontena-ipam-ctl: unknown command ${JSON.stringify(name)}: one of ${COMMANDS.map((c) => c.name).join(', ')} (kontena-ipam-ctl --help)\n`,
    );
    return EXIT.usage;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(
      `kontena-ipam-ctl: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 1;
  },
);
