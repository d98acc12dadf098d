import { isPoolId, POOL_ID_RULE } from '#app/ipam';
import { Addr } from '#app/net';

import { readCommandLine } from '../args.js';
import type { CtlCommand } from '../command.js';
import { defineCommand } from '../define-command.js';

const NAME = 'release';

const USAGE = `Usage: kontena-ipam-ctl release POOL ADDRESS [--force]

Frees one address of a pool in etcd, after confirming that no container on this host uses it
(this host's Docker, DOCKER_HOST, is asked): for an address that leaked and that the cleanup
cannot free (its node is gone, say). Never the gateway of a pool nor an aux reservation: those
go with their network. An address that is already free is left alone (exit 0, with a note).
The delete compares the address's revision as read: an address taken again meanwhile stays.

  --force       do not ask Docker; needed for an address another node holds, whose Docker
                this host cannot see (a warning says so)
  -h, --help    show this help and exit

Environment: NODE_ID, ETCD_ENDPOINT, ETCD_PREFIX, ETCD_WAIT_TIMEOUT, the ETCD_* TLS and auth
variables, LOG_LEVEL, LOG_FORMAT and DOCKER_HOST as for kontena-ipam.

Exit status: 0 released or already free, 1 refused (in use, a gateway or aux reservation,
another node's without --force, Docker unreachable, no such pool, changed meanwhile), 2 bad
usage or configuration, 3 etcd unreachable.
`;

export interface ReleaseRequest {
  pool: string;
  ip: Addr;
  force: boolean;
}

export function parseRelease(args: readonly string[]): ReleaseRequest | string {
  const line = readCommandLine(args, { force: { type: 'boolean' } } as const, 2);
  if (typeof line === 'string') {
    return line;
  }
  const [pool, address] = line.positionals;
  if (pool === undefined || address === undefined) {
    return 'release needs a POOL and an ADDRESS';
  }
  if (!isPoolId(pool)) {
    return `${JSON.stringify(pool)} is not a pool name: ${POOL_ID_RULE}`;
  }
  const ip = Addr.tryParse(address);
  if (!ip) {
    return `${JSON.stringify(address)} is not an IP address (without /length)`;
  }
  return { pool, ip, force: line.values.force ?? false };
}

export const releaseCommand: CtlCommand = defineCommand({
  name: NAME,
  summary: 'free one leaked address, after asking Docker on this host that nothing uses it',
  usage: USAGE,
  parse: parseRelease,
  load: async () => (await import('./release.js')).runRelease,
});
