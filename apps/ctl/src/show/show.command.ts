import { isNodeId, isPoolId, NODE_ID_RULE, POOL_ID_RULE } from '#app/ipam';
import { Addr } from '#app/net';

import { readCommandLine } from '../args.js';
import type { CtlCommand } from '../command.js';
import { defineCommand } from '../define-command.js';

const NAME = 'show';

const USAGE = `Usage: kontena-ipam-ctl show [--json]
       kontena-ipam-ctl show POOL [--node NODE_ID] [--json]
       kontena-ipam-ctl show --ip ADDRESS [--json]

Shows the address plan of the whole cluster, read from etcd at one revision. Needs no Docker,
except --ip, which also asks this host's Docker (DOCKER_HOST) when it answers.

  show               every pool: family, subnet, ip range, gateway, the nodes that are members
                     (with their reference counts), allocated / size / free and a bar; the
                     supernets with how many subnets are carved and free; every node with its
                     running plugin and its last successful cleanup pass
  show POOL          the pool's addresses: address, node, kind (gateway, endpoint, aux) and the
                     endpoint's name when known, printed page by page as they are read
  --node NODE_ID     with POOL: only the addresses this node holds
  --ip ADDRESS       which pool and node hold ADDRESS, or that it is free, and whether Docker
                     on this host uses it
  --json             one JSON object instead of text (counts as decimal strings;
                     docs/ctl.md describes the shapes)
  -h, --help         show this help and exit

Environment: ETCD_ENDPOINT, ETCD_PREFIX, ETCD_WAIT_TIMEOUT, the ETCD_* TLS and auth variables,
KONTENA_IPAM_SUPERNET, KONTENA_IPAM_SUBNET_LENGTH and their IPv6 twins, LOG_LEVEL, LOG_FORMAT
and DOCKER_HOST as for kontena-ipam.

Exit status: 0 shown, 1 the pool does not exist, 2 bad usage or configuration, 3 etcd
unreachable.
`;

const OPTIONS = {
  json: { type: 'boolean' },
  node: { type: 'string' },
  ip: { type: 'string' },
} as const;

/** What the line asks for, or a usage error's message. */
export type ShowRequest =
  | { kind: 'plan'; json: boolean }
  | { kind: 'pool'; pool: string; node?: string; json: boolean }
  | { kind: 'ip'; ip: Addr; json: boolean };

export function parseShow(args: readonly string[]): ShowRequest | string {
  const line = readCommandLine(args, OPTIONS, 1);
  if (typeof line === 'string') {
    return line;
  }
  const { json = false, node, ip } = line.values;
  const [pool] = line.positionals;
  if (ip !== undefined) {
    if (pool !== undefined || node !== undefined) {
      return '--ip combines only with --json';
    }
    const addr = Addr.tryParse(ip);
    return addr
      ? { kind: 'ip', ip: addr, json }
      : `--ip ${JSON.stringify(ip)} is not an IP address`;
  }
  if (pool === undefined) {
    return node === undefined ? { kind: 'plan', json } : '--node needs a POOL';
  }
  if (!isPoolId(pool)) {
    return `${JSON.stringify(pool)} is not a pool name: ${POOL_ID_RULE}`;
  }
  if (node !== undefined && !isNodeId(node)) {
    return `--node ${JSON.stringify(node)} is not a NODE_ID: ${NODE_ID_RULE}`;
  }
  return { kind: 'pool', pool, ...(node !== undefined ? { node } : {}), json };
}

export const showCommand: CtlCommand = defineCommand({
  name: NAME,
  summary: 'the pools, how full each is, the supernets and the nodes; one pool; one address',
  usage: USAGE,
  parse: parseShow,
  load: async () => (await import('./show.run.js')).runShow,
});
