import { parseArgs as tokenize, type ParseArgsConfig } from 'node:util';

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
  --driver NAME          this plugin's IPAM driver name in Docker (default: every name it has
                         there: the file name of KONTENA_IPAM_SOCKET without .sock, i.e.
                         kontena-ipam, and each managed plugin on a socket of that name, such
                         as kontena-ipam:latest)
  --forget-node NODE_ID  instead of a pass: delete the addresses (gateways excepted) and pool
                         memberships of NODE_ID, a node gone for good, then the pools it leaves
                         without members; needs --yes unless --dry-run; never this node's id
  --yes                  confirm --forget-node
  --force                run a pass although another live kontena-ipam holds this NODE_ID
                         (on another host, or a second one): without it the pass refuses, since
                         it would free that plugin's addresses as leaks; --forget-node always
                         refuses a node whose plugin is alive
  --check                instead of a pass: read the whole store under ETCD_PREFIX at one
                         revision and verify its invariants (no overlapping subnets, subnet
                         keys and pools point at each other, every address inside its pool
                         with an owner, every pool with its gateway, memberships of existing
                         pools); changes nothing, needs no Docker; combines only with --json
  --json                 print the report as one JSON object instead of text lines
  -h, --help             show this help and exit
  -v, --version          print the version and exit

Environment: NODE_ID, ETCD_ENDPOINT, ETCD_PREFIX, ETCD_WAIT_TIMEOUT, the ETCD_* TLS and auth
variables, LOG_LEVEL, LOG_FORMAT and KONTENA_IPAM_SOCKET as for kontena-ipam; DOCKER_HOST, the local
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
  /** Run the pass although another live plugin holds this NODE_ID. */
  force: boolean;
  json: boolean;
}

export type CliAction =
  | { kind: 'run'; options: CleanupOptions }
  /** --check: the read-only consistency check */
  | { kind: 'check'; json: boolean }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string };

const OPTIONS = {
  'dry-run': { type: 'boolean' },
  pool: { type: 'string' },
  quiesce: { type: 'string' },
  driver: { type: 'string' },
  'forget-node': { type: 'string' },
  yes: { type: 'boolean' },
  force: { type: 'boolean' },
  check: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

type OptionName = keyof typeof OPTIONS;
type ValueOption = {
  [K in OptionName]: (typeof OPTIONS)[K]['type'] extends 'string' ? K : never;
}[OptionName];
type Flag = Exclude<OptionName, ValueOption>;

const isOptionName = (name: string): name is OptionName => Object.hasOwn(OPTIONS, name);
const isValueOption = (name: OptionName): name is ValueOption => OPTIONS[name].type === 'string';

/** The command line read into its options, each in the order first given. */
interface Line {
  values: Map<ValueOption, string>;
  flags: Set<Flag>;
}

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
  const line = readLine(args);
  if (typeof line === 'string') {
    return usageError(line);
  }
  const { values, flags } = line;
  if (flags.has('help')) {
    return { kind: 'help' }; // inside a bundle of short options (`-vh`)
  }
  if (flags.has('version')) {
    return values.size + flags.size === 1
      ? { kind: 'version' }
      : usageError('--version combines with no other option');
  }
  if (flags.has('check')) {
    return checkAction(line);
  }
  const options = readOptions(line);
  if (typeof options === 'string') {
    return usageError(options);
  }
  const forget = values.get('forget-node');
  if (forget === undefined) {
    return options.yes ? usageError('--yes only confirms --forget-node') : { kind: 'run', options };
  }
  const refused = refuseForgetNode(forget, line);
  return refused === undefined
    ? { kind: 'run', options: { ...options, forgetNode: forget } }
    : usageError(refused);
}

/** The options and flags of the line, or why it is not a command line of ours. */
function readLine(args: readonly string[]): Line | string {
  let tokens;
  try {
    ({ tokens } = tokenize({
      args: valuesInline(args),
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
      tokens: true,
    }));
  } catch (e) {
    return refusal(args) ?? (e instanceof Error ? e.message : String(e));
  }
  const line: Line = { values: new Map(), flags: new Set() };
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      return 'unknown option: --';
    }
    if (token.kind !== 'option' || !isOptionName(token.name)) {
      continue; // refused by the strict parse already
    }
    if (!isValueOption(token.name)) {
      line.flags.add(token.name);
    } else if (!token.value) {
      return `--${token.name} needs a value`;
    } else if (line.values.has(token.name)) {
      return `--${token.name} is given twice`;
    } else {
      line.values.set(token.name, token.value);
    }
  }
  return line;
}

/**
 * `--opt VALUE` as `--opt=VALUE`: the token after an option that takes a value is that value,
 * whatever it looks like, so `--quiesce -1` is a number out of range rather than the
 * ambiguity parseArgs reports for a value that starts with a dash.
 */
function valuesInline(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const name = arg.startsWith('--') ? arg.slice(2) : '';
    const next = args[i + 1];
    if (isOptionName(name) && isValueOption(name) && next !== undefined) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Why the strict parse refused the line, in our words: a lenient parse of the same line names
 * the token it refused. Undefined when the lenient parse finds nothing wrong either.
 */
function refusal(args: readonly string[]): string | undefined {
  const { tokens } = tokenize({
    args: valuesInline(args),
    options: OPTIONS,
    strict: false,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind === 'option-terminator') {
      return 'unknown option: --';
    }
    if (token.kind === 'positional') {
      return `unexpected argument: ${token.value}`;
    }
    if (!isOptionName(token.name)) {
      return `unknown option: ${token.rawName}`;
    }
    if (isValueOption(token.name) && token.value === undefined) {
      return `--${token.name} needs a value`;
    }
    if (!isValueOption(token.name) && token.value !== undefined) {
      return `${token.rawName} takes no value`;
    }
  }
  return undefined;
}

/**
 * `--check` is read-only over the whole store: a scope, a quiesce, a driver or a dry run would
 * suggest otherwise, and --forget-node changes things.
 */
function checkAction({ values, flags }: Line): CliAction {
  const others = [...values.keys(), ...[...flags].filter((f) => f !== 'check' && f !== 'json')];
  if (others.length > 0) {
    return usageError(
      `--check reads the whole store and changes nothing: it combines only with --json, not with ${others.map((o) => `--${o}`).join(', ')}`,
    );
  }
  return { kind: 'check', json: flags.has('json') };
}

/** The options of a pass (or of --forget-node), each value in its range, or what is wrong. */
function readOptions({ values, flags }: Line): CleanupOptions | string {
  const options: CleanupOptions = {
    dryRun: flags.has('dry-run'),
    quiesceSeconds: DEFAULT_QUIESCE_SECONDS,
    yes: flags.has('yes'),
    force: flags.has('force'),
    json: flags.has('json'),
  };
  const pool = values.get('pool');
  if (pool !== undefined) {
    if (!isPoolId(pool)) {
      return `--pool ${JSON.stringify(pool)} is not a pool name: ${POOL_ID_RULE}`;
    }
    options.pool = pool;
  }
  const quiesce = values.get('quiesce');
  if (quiesce !== undefined) {
    const seconds = /^\d+(\.\d+)?$/.test(quiesce) ? Number(quiesce) : Number.NaN;
    if (!(seconds >= 0 && seconds <= MAX_QUIESCE_SECONDS)) {
      return `--quiesce ${JSON.stringify(quiesce)} must be a number of seconds from 0 to ${MAX_QUIESCE_SECONDS}`;
    }
    options.quiesceSeconds = seconds;
  }
  const driver = values.get('driver');
  if (driver !== undefined) {
    if (!DRIVER_PATTERN.test(driver)) {
      return `--driver ${JSON.stringify(driver)} is not a Docker plugin name`;
    }
    options.driver = driver;
  }
  return options;
}

/** Why `--forget-node NODE_ID` cannot run as given, or undefined when it can. */
function refuseForgetNode(node: string, { values, flags }: Line): string | undefined {
  if (!isNodeId(node)) {
    return `--forget-node ${JSON.stringify(node)} is not a NODE_ID: ${NODE_ID_RULE}`;
  }
  if (values.has('quiesce') || values.has('driver')) {
    return '--quiesce and --driver do not apply to --forget-node (it does not ask Docker)';
  }
  if (flags.has('force')) {
    return '--force does not apply to --forget-node: a node whose plugin is alive is never forgotten';
  }
  if (!flags.has('yes') && !flags.has('dry-run')) {
    return `--forget-node ${node} deletes that node's addresses and memberships for good: add --yes, or --dry-run to see what it would delete`;
  }
  return undefined;
}
