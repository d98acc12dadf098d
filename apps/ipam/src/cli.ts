import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { isJsonObject } from './json-object.js';

export const USAGE = `Usage: kontena-ipam [--help | --version]

Runs the kontena-ipam Docker IPAM driver plugin in the foreground: the plugin API on a unix
socket, /healthz, /readyz and /metrics on TCP. Configured only by environment variables:

  NODE_ID                         owner tag of this host (default: the host name)
  ETCD_ENDPOINT                   comma-separated etcd URLs (default: http://localhost:2379)
  ETCD_PREFIX                     key prefix of all state (default: /kontena/ipam)
  ETCD_WAIT_TIMEOUT               seconds a call waits for etcd before a 503, 1-3600 (default: 60)
  ETCD_CA_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE
                                  TLS towards etcd (default: unset)
  ETCD_USERNAME, ETCD_PASSWORD    etcd authentication, both or neither (default: unset)
  LOG_LEVEL                       0 debug, 1 info, 2 warn, 3 error, or the names (default: 1)
  LOG_FORMAT                      text (default) or json: one JSON object per line
  KONTENA_IPAM_SUPERNET           dynamic pools are carved from here: CIDR[:LENGTH],...
                                  tried in order (default: 10.80.0.0/12)
  KONTENA_IPAM_SUBNET_LENGTH      prefix length of dynamic pools where a supernet gives
                                  none (default: 24)
  KONTENA_IPAM_SUPERNET6          the same for IPv6 pools (default: the cluster's ULA /48)
  KONTENA_IPAM_SUBNET6_LENGTH     prefix length of dynamic IPv6 pools (default: 64)
  KONTENA_IPAM_SOCKET             plugin socket; its file name is the driver name
                                  (default: /run/docker/plugins/kontena-ipam.sock)
  KONTENA_IPAM_AVOID_HOST_ROUTES  skip subnets on this host's routes (default: true)
  KONTENA_IPAM_HEALTH_LISTEN      host:port of /healthz, /readyz and /metrics (default: 127.0.0.1:2275)

Options:
  -h, --help     show this help and exit
  -v, --version  print the version and exit
`;

/**
 * USAGE, and where the documentation is when this installation has it: the README and docs/
 * beside package.json (a checkout, the image's /app). Nothing points at a file that is not there.
 */
export function usage(from: string = import.meta.url): string {
  const root = packageRoot(from);
  return root !== undefined && existsSync(join(root, 'README.md'))
    ? `${USAGE}\nSee ${join(root, 'README.md')} and ${join(root, 'docs')}/ for details.\n`
    : USAGE;
}

export type CliAction =
  | { kind: 'run' }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string };

export function parseArgs(args: readonly string[]): CliAction {
  const [first, ...rest] = args;
  if (first === undefined) {
    return { kind: 'run' };
  }
  if (rest.length > 0) {
    return { kind: 'usage-error', message: `unexpected argument: ${rest[0] ?? ''}` };
  }
  switch (first) {
    case '-h':
    case '--help':
      return { kind: 'help' };
    case '-v':
    case '--version':
      return { kind: 'version' };
    default:
      return { kind: 'usage-error', message: `unknown argument: ${first}` };
  }
}

/** The version from the repository's package.json (packageRoot). */
export function readVersion(from: string = import.meta.url): string {
  const root = packageRoot(from);
  return root === undefined ? 'unknown' : (kontenaPackage(root)?.version ?? 'unknown');
}

function kontenaPackage(dir: string): { version: string } | undefined {
  const candidate = join(dir, 'package.json');
  if (!existsSync(candidate)) {
    return undefined;
  }
  const pkg: unknown = JSON.parse(readFileSync(candidate, 'utf8'));
  return isJsonObject(pkg) && pkg.name === 'kontena-ipam' && typeof pkg.version === 'string'
    ? { version: pkg.version }
    : undefined;
}

/**
 * The directory of the repository's package.json, found by walking up from `from` (a module
 * URL): the built main.js sits four levels below it, the TypeScript source three.
 */
function packageRoot(from: string): string | undefined {
  let dir = dirname(fileURLToPath(from));
  for (;;) {
    if (kontenaPackage(dir)) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      return undefined;
    }
    dir = parent;
  }
}
