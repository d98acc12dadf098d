import { readCommandLine } from '../args.js';
import type { CtlCommand } from '../command.js';
import { defineCommand } from '../define-command.js';

const USAGE = `Usage: kontena-ipam-ctl repair [--dry-run] [--json]

Registers again in etcd what this host's Docker still uses of this plugin, for this node
(NODE_ID): after an etcd snapshot restore, a mistaken kontena-ipam-cleanup --forget-node, or an
import-v2. For each local network of the plugin's driver: its pool (with the subnet, range and
gateway Docker shows), this node's membership (one reference per local network on the pool),
and every container address, aux address and custom gateway on it. Each is written only if
etcd does not hold it (the plugin's own create-if-absent transactions); what etcd holds and
differs (a pool with another subnet, an address of another node) is reported and kept.

A network created without --ipam-opt network=NAME can be repaired only while etcd holds its
pool: Docker does not show the private pool id it uses.

Options:
  --dry-run      read Docker and etcd and print what would be written; write nothing
  --json         print the report as one JSON object
  -h, --help     show this help and exit

Environment: NODE_ID, ETCD_*, KONTENA_IPAM_SOCKET (the driver name) and DOCKER_HOST, as for
kontena-ipam-cleanup. Exit status: 0 nothing to report; 1 a conflict or a network that cannot be
repaired (or Docker unreachable); 2 bad usage or environment; 3 etcd unreachable.
`;

export interface RepairOptions {
  dryRun: boolean;
  json: boolean;
}

const OPTIONS = { 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } } as const;

/** The options, or the usage error to print. */
export function parseRepairArgs(args: readonly string[]): RepairOptions | string {
  const line = readCommandLine(args, OPTIONS, 0);
  if (typeof line === 'string') {
    return line;
  }
  return { dryRun: line.values['dry-run'] ?? false, json: line.values.json ?? false };
}

export const repairCommand: CtlCommand = defineCommand({
  name: 'repair',
  summary: "register again what this host's Docker uses (after a restore or a --forget-node)",
  usage: USAGE,
  parse: parseRepairArgs,
  load: async () => (await import('./run-repair.js')).runRepair,
});
