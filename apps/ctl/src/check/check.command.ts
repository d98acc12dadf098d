import { readCommandLine } from '../args.js';
import type { CtlCommand } from '../command.js';
import { defineCommand } from '../define-command.js';

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

export const checkCommand: CtlCommand = defineCommand({
  name: NAME,
  summary: "verify the store's invariants (kontena-ipam-cleanup --check)",
  usage: USAGE,
  parse: (args) => {
    const line = readCommandLine(args, { json: { type: 'boolean' } } as const, 0);
    return typeof line === 'string' ? line : { json: line.values.json ?? false };
  },
  load: async () => (await import('./check.run.js')).runCheck,
});
