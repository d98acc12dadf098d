import { isNodeId, isPoolId, NODE_ID_RULE, POOL_ID_RULE } from '#app/ipam';

export const USAGE = `Usage: kontena-ipam-cleanup [options]

Runs one cleanup pass for this node (NODE_ID) and exits. It frees the addresses this node
holds in etcd that no local container, gateway or aux address uses any more, drops this node's
memberships of pools that no local Docker network uses, then deletes the pools that no node is
a member of. It never touches another node's addresses, nor anything written after the pass
began, nor a gateway.

Options:
  --dry-run              report what would be freed or deleted; change nothing
  --pool NAME            only this pool (a network option name or a local-... pool id)
  --quiesce SECONDS      wait this long after recording the etcd revision, so that containers
                         that were starting show up in Docker, 0-3600 (default: 10)
  --driver NAME          this plugin's IPAM driver name in Docker (default: the file name of
                         KONTENA_IPAM_SOCKET without .sock, i.e. kontena-ipam)
  --forget-node NODE_ID  instead of a pass: delete the addresses (gateways excepted) and pool
                         memberships of NODE_ID, a node gone for good, then the pools it leaves
                         without members; needs --yes unless --dry-run; never this node's id
  --yes                  confirm --forget-node
  --check                instead of a pass: read the whole store under ETCD_PREFIX at one
                         revision and verify its invariants (no overlapping subnets, subnet
                         keys and pools point at each other, every address inside its pool
                         with an owner, every pool with its gateway, memberships of existing
                         pools); changes nothing, needs no Docker; combines only with --json
  --json                 print the report as one JSON object instead of text lines
  -h, --help             show this help and exit

Environment: NODE_ID, ETCD_ENDPOINT, ETCD_PREFIX, ETCD_WAIT_TIMEOUT, the ETCD_* TLS and auth
variables, LOG_LEVEL and KONTENA_IPAM_SOCKET as for kontena-ipam; DOCKER_HOST, the local
Docker daemon (default: unix:///var/run/docker.sock; tcp://HOST:PORT also works).

Output: one line per pool (kept / freed / skipped, and why), then a summary line; logs go to
stderr. Exit status: 0 done, 1 failed (Docker or etcd unreachable: nothing is deleted),
2 bad usage. With --check: one line per violation, then a summary line; 0 consistent,
1 a violation found or etcd unreachable, 2 bad usage.
`;

export const DEFAULT_QUIESCE_SECONDS = 10;
const MAX_QUIESCE_SECONDS = 3600;

/** Legacy plugin names (`kontena-ipam`) and managed ones (`kontena/ipam:latest`). */
const DRIVER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,254}$/;

export interface CleanupOptions {
  dryRun: boolean;
  /** Only this pool. */
  pool?: string;
  quiesceSeconds: number;
  /** Docker's IPAM driver name of this plugin; undefined: the socket's file name. */
  driver?: string;
  /** Forget this node instead of running a pass. */
  forgetNode?: string;
  yes: boolean;
  json: boolean;
}

export type CliAction =
  | { kind: 'run'; options: CleanupOptions }
  /** --check: the read-only consistency check */
  | { kind: 'check'; json: boolean }
  | { kind: 'help' }
  | { kind: 'usage-error'; message: string };

type ValueOption = '--pool' | '--quiesce' | '--driver' | '--forget-node';
const VALUE_OPTIONS: readonly ValueOption[] = ['--pool', '--quiesce', '--driver', '--forget-node'];
const FLAGS = ['--dry-run', '--yes', '--json', '--check'] as const;

const usageError = (message: string): CliAction => ({ kind: 'usage-error', message });

/**
 * Parses the command line (`--opt VALUE` or `--opt=VALUE`). Pure: what needs the configuration
 * (refusing this node's own id for --forget-node) is checked once the configuration is loaded.
 */
export function parseArgs(args: readonly string[]): CliAction {
  // Asking for help wins over any mistake on the same line.
  if (args.includes('-h') || args.includes('--help')) {
    return { kind: 'help' };
  }
  const values = new Map<ValueOption, string>();
  const flags = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const option = VALUE_OPTIONS.find((o) => o === name);
    if (option !== undefined) {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined || value === '') {
        return usageError(`${option} needs a value`);
      }
      if (values.has(option)) {
        return usageError(`${option} is given twice`);
      }
      values.set(option, value);
      continue;
    }
    if ((FLAGS as readonly string[]).includes(arg)) {
      flags.add(arg);
      continue;
    }
    return usageError(
      arg.startsWith('-') ? `unknown option: ${arg}` : `unexpected argument: ${arg}`,
    );
  }

  if (flags.has('--check')) {
    // Read-only over the whole store: a scope, a quiesce, a driver or a dry run would suggest
    // otherwise, and --forget-node changes things.
    const others = [
      ...values.keys(),
      ...[...flags].filter((f) => f !== '--check' && f !== '--json'),
    ];
    if (others.length > 0) {
      return usageError(
        `--check reads the whole store and changes nothing: it combines only with --json, not with ${others.join(', ')}`,
      );
    }
    return { kind: 'check', json: flags.has('--json') };
  }

  const options: CleanupOptions = {
    dryRun: flags.has('--dry-run'),
    quiesceSeconds: DEFAULT_QUIESCE_SECONDS,
    yes: flags.has('--yes'),
    json: flags.has('--json'),
  };
  const pool = values.get('--pool');
  if (pool !== undefined) {
    if (!isPoolId(pool)) {
      return usageError(`--pool ${JSON.stringify(pool)} is not a pool name: ${POOL_ID_RULE}`);
    }
    options.pool = pool;
  }
  const quiesce = values.get('--quiesce');
  if (quiesce !== undefined) {
    const seconds = /^\d+(\.\d+)?$/.test(quiesce) ? Number(quiesce) : Number.NaN;
    if (!(seconds >= 0 && seconds <= MAX_QUIESCE_SECONDS)) {
      return usageError(
        `--quiesce ${JSON.stringify(quiesce)} must be a number of seconds from 0 to ${MAX_QUIESCE_SECONDS}`,
      );
    }
    options.quiesceSeconds = seconds;
  }
  const driver = values.get('--driver');
  if (driver !== undefined) {
    if (!DRIVER_PATTERN.test(driver)) {
      return usageError(`--driver ${JSON.stringify(driver)} is not a Docker plugin name`);
    }
    options.driver = driver;
  }
  const forget = values.get('--forget-node');
  if (forget === undefined) {
    if (options.yes) {
      return usageError('--yes only confirms --forget-node');
    }
    return { kind: 'run', options };
  }
  if (!isNodeId(forget)) {
    return usageError(`--forget-node ${JSON.stringify(forget)} is not a NODE_ID: ${NODE_ID_RULE}`);
  }
  if (quiesce !== undefined || driver !== undefined) {
    return usageError(
      '--quiesce and --driver do not apply to --forget-node (it does not ask Docker)',
    );
  }
  if (!options.yes && !options.dryRun) {
    return usageError(
      `--forget-node ${forget} deletes that node's addresses and memberships for good: add --yes, or --dry-run to see what it would delete`,
    );
  }
  options.forgetNode = forget;
  return { kind: 'run', options };
}
