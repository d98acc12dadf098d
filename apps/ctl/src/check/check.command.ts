import { readCommandLine, wantsHelp } from '../args.js';
import { EXIT, type CtlCommand } from '../command.js';
import { usageError } from '../ctl-app.js';

const NAME = 'check';

const USAGE = `Usage: kontena-ipam-ctl check [--json]

Reads the whole store under ETCD_PREFIX at one revision and verifies its invariants: no
overlapping subnets, subnet keys and pools point at each other, every address inside its pool
with an owner, every pool with its gateway, memberships of existing pools, valid registrations
and cleanup passes. Changes nothing and needs no Docker. The same check as
kontena-ipam-cleanup --check (which keeps working).

  --json        print the report as one JSON object instead of text lines
  -h, --help    show this help and exit

Output: one line per violation, one per note, then a summary line.
Exit status: 0 consistent, 1 a violation found, 2 bad usage or configuration, 3 etcd
unreachable.
`;

export const checkCommand: CtlCommand = {
  name: NAME,
  summary: "verify the store's invariants (kontena-ipam-cleanup --check)",
  usage: USAGE,
  async run(args) {
    if (wantsHelp(args)) {
      process.stdout.write(USAGE);
      return EXIT.ok;
    }
    const line = readCommandLine(args, { json: { type: 'boolean' } } as const, 0);
    if (typeof line === 'string') {
      return usageError(NAME, line);
    }
    const { runCheck } = await import('./check.run.js');
    return runCheck(line.values.json ?? false);
  },
};
