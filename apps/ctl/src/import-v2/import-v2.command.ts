import { readCommandLine } from '../args.js';
import type { CtlCommand } from '../command.js';
import { defineCommand } from '../define-command.js';

const USAGE = `Usage: kontena-ipam-ctl import-v2 --from URL [--dry-run] [--json]

Copies the state of a kontena-ipam 0.2 fleet (etcd v2 keys under /kontena/ipam, read from
URL over etcd's v2 HTTP API) into this plugin's etcd v3 store (ETCD_ENDPOINT, ETCD_PREFIX),
through the plugin's own transactions: pools with their subnets and gateways, one membership
per 0.2 pool-nodes key, every address with its node. Stop every 0.2 plugin first, and run it
once for the fleet (docs/upgrading.md).

0.2 keys that cannot be imported (a subnet overlapping an older pool's, an orphan subnet key,
an address of a missing pool) are reported and skipped. A v3 record that exists and differs is
reported and kept; one that is the same is left alone, so a second run changes nothing. A real
import ends with the consistency check of kontena-ipam-cleanup --check.

Every host must run the new plugin with the NODE_ID it had under 0.2, or the addresses
imported for it are never released.

Options:
  --from URL     an etcd client URL that serves the v2 API (etcd 3.4 or 3.5 started with
                 --enable-v2, or the etcd 2.x/3.x the 0.2 plugins used), e.g. http://etcd:2379
  --dry-run      read both stores and print the plan; write nothing
  --json         print the report as one JSON object
  -h, --help     show this help and exit

Exit status: 0 all imported (or present already) and the check is clean; 1 a key skipped, a
conflict, or a check violation; 2 bad usage or environment; 3 etcd (v3) unreachable.
`;

export interface ImportOptions {
  from: URL;
  dryRun: boolean;
  json: boolean;
}

const OPTIONS = {
  from: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** The options, or the usage error to print. */
export function parseImportArgs(args: readonly string[]): ImportOptions | string {
  const line = readCommandLine(args, OPTIONS, 0);
  if (typeof line === 'string') {
    return line;
  }
  const { from: url, 'dry-run': dryRun = false, json = false } = line.values;
  if (url === undefined) {
    return '--from URL is required: the etcd that holds the 0.2 keys (v2 API)';
  }
  let from: URL;
  try {
    from = new URL(url);
  } catch {
    return `--from ${url}: not a URL (expected http://HOST:PORT)`;
  }
  if (from.protocol !== 'http:' && from.protocol !== 'https:') {
    return `--from ${url}: expected an http:// or https:// URL`;
  }
  return { from, dryRun, json };
}

export const importV2Command: CtlCommand = defineCommand({
  name: 'import-v2',
  summary: 'copy a kontena-ipam 0.2 fleet (etcd v2) into this store (docs/upgrading.md)',
  usage: USAGE,
  parse: parseImportArgs,
  load: async () => (await import('./run-import.js')).runImport,
});
