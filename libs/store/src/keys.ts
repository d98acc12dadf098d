import { Prefix } from '#app/net';
import { subnetKeyName, v6OverlapFence } from './subnet-keys.js';

/** What a key under the prefix is, by its path (KeyLayout.parse); values are not read. */
export type ParsedKey =
  | { kind: 'pool'; id: string }
  | { kind: 'subnet'; network: string }
  | { kind: 'address'; pool: string; ip: string }
  | { kind: 'member'; pool: string; node: string }
  | { kind: 'registration'; node: string; instance: string }
  /** the cluster's IPv6 supernet (KeyLayout.supernet6) */
  | { kind: 'supernet6' }
  | { kind: 'cleanup-pass'; node: string }
  /** under one of the layout's directories, but not of its shape (`pools/a/b`, `subnets/`) */
  | { kind: 'malformed'; dir: LayoutDir }
  /** outside the layout's directories (or outside the prefix) */
  | { kind: 'other' };

const LAYOUT_DIRS = [
  'pools',
  'subnets',
  'addresses',
  'pool-nodes',
  'nodes',
  'cleanup-passes',
] as const;
export type LayoutDir = (typeof LAYOUT_DIRS)[number];

/** The number of path segments after the directory, per directory. */
const SEGMENTS: Record<LayoutDir, number> = {
  pools: 1,
  subnets: 1,
  addresses: 2,
  'pool-nodes': 2,
  nodes: 2,
  'cleanup-passes': 1,
};

/**
 * The etcd key layout, in one place (libs/store/README.md, "Keys"). Keys keep the original
 * project's paths so an operator who knows kontena-ipam 0.2 can read the store with etcdctl:
 *
 *   <prefix>/pools/<id>                 {"subnet","iprange"?,"gateway","req"}
 *   <prefix>/subnets/<network address>  {"address":"<net>/<len>","pool":"<id>","req"}
 *   <prefix>/addresses/<id>/<ip>        {"address":"<ip>/<len>","node","type","name"?,"req"}
 *   <prefix>/pool-nodes/<id>/<node>     {"refs":n,"req"}
 *   <prefix>/nodes/<node>/<instance>    {"host","pid","started","version","ttl"}, on a lease
 *   <prefix>/supernet6                  {"supernet":"fdxx:xxxx:xxxx::/48","req"}
 *   <prefix>/cleanup-passes/<node>      {"time","revision","freed",…}: its last cleanup pass
 *
 * Directories do not exist in v3; a "directory" is a key prefix ending in "/".
 */
export class KeyLayout {
  readonly root: string;

  constructor(prefix: string) {
    this.root = prefix.replace(/\/+$/, '');
  }

  get poolsPrefix(): string {
    return `${this.root}/pools/`;
  }
  get subnetsPrefix(): string {
    return `${this.root}/subnets/`;
  }
  get addressesRoot(): string {
    return `${this.root}/addresses/`;
  }
  get poolNodesRoot(): string {
    return `${this.root}/pool-nodes/`;
  }

  pool(id: string): string {
    return `${this.poolsPrefix}${id}`;
  }
  /**
   * Keyed by network address only: two subnets with the same base address overlap anyway. The
   * name is `subnetKeyName(prefix)` (a dotted quad, or 32 hex digits for IPv6).
   */
  subnet(network: string): string {
    return `${this.subnetsPrefix}${network}`;
  }
  /**
   * The cluster's IPv6 supernet when KONTENA_IPAM_SUPERNET6 is unset: a ULA /48 chosen once, by
   * the first node that needs it (create-if-absent), and used by every node.
   */
  get supernet6(): string {
    return `${this.root}/supernet6`;
  }
  /**
   * The subnet keys a reservation of `subnet` must see unchanged since its read: every key whose
   * subnet could overlap it. A subnet inside it has its network address inside it, so its key
   * starts with the reservation's whole octets (`prefix`: one range, a superset of those keys); a
   * subnet around it has one of the reservation's shorter masks as its network address (`keys`:
   * at most one per shorter length). Keys are dotted quads, which do not sort as numbers: only
   * whole octets make a key prefix, hence the rounding down to them (and to at most three
   * octets). IPv6 keys are hex digits (subnet-keys.ts, v6OverlapFence); neither family's range
   * holds a key of the other (dotted quads against 32 hex digits without a dot).
   */
  subnetOverlapFence(subnet: Prefix): { prefix: string; keys: string[] } {
    if (subnet.family === 6) {
      const fence = v6OverlapFence(subnet);
      return {
        prefix: `${this.subnetsPrefix}${fence.prefix}`,
        keys: fence.names.map((name) => this.subnet(name)),
      };
    }
    // At most three: a /32's own key has no dot after its fourth octet.
    const whole = Math.min(Math.floor(subnet.length / 8), 3);
    const octets = subnet.network().toString().split('.').slice(0, whole);
    const prefix = `${this.subnetsPrefix}${octets.map((o) => `${o}.`).join('')}`;
    const keys = new Set<string>();
    for (let l = 0; l < subnet.length; l++) {
      const key = this.subnet(subnetKeyName(Prefix.of(subnet.addr, l)));
      if (!key.startsWith(prefix)) {
        keys.add(key); // those inside the range are compared already
      }
    }
    return { prefix, keys: [...keys] };
  }
  addressesOf(poolId: string): string {
    return `${this.addressesRoot}${poolId}/`;
  }
  address(poolId: string, ip: string): string {
    return `${this.addressesOf(poolId)}${ip}`;
  }
  membersOf(poolId: string): string {
    return `${this.poolNodesRoot}${poolId}/`;
  }
  member(poolId: string, node: string): string {
    return `${this.membersOf(poolId)}${node}`;
  }
  get nodesRoot(): string {
    return `${this.root}/nodes/`;
  }
  /** The registrations of the running plugins of one NODE_ID (node-registration.ts). */
  registrationsOf(node: string): string {
    return `${this.nodesRoot}${node}/`;
  }
  registration(node: string, instance: string): string {
    return `${this.registrationsOf(node)}${instance}`;
  }
  get cleanupPassesRoot(): string {
    return `${this.root}/cleanup-passes/`;
  }
  /** The last successful cleanup pass of one NODE_ID (written by the pass, read by the ctl). */
  cleanupPass(node: string): string {
    return `${this.cleanupPassesRoot}${node}`;
  }

  /** What the full etcd key `key` is (see {@link ParsedKey}). */
  parse(key: string): ParsedKey {
    const relative = KeyLayout.tail(key, `${this.root}/`);
    return relative === undefined ? { kind: 'other' } : KeyLayout.parseRelative(relative);
  }

  /** {@link parse} for a key relative to the prefix (`pools/blue`), as the snapshot lists them. */
  static parseRelative(relative: string): ParsedKey {
    if (relative === 'supernet6') {
      return { kind: 'supernet6' };
    }
    const [dir = '', ...segments] = relative.split('/');
    const layoutDir = LAYOUT_DIRS.find((d) => d === dir);
    if (layoutDir === undefined) {
      return { kind: 'other' };
    }
    if (segments.length !== SEGMENTS[layoutDir] || segments.some((s) => s === '')) {
      return { kind: 'malformed', dir: layoutDir };
    }
    const [first = '', second = ''] = segments;
    if (layoutDir === 'pools') {
      return { kind: 'pool', id: first };
    }
    if (layoutDir === 'subnets') {
      return { kind: 'subnet', network: first };
    }
    if (layoutDir === 'cleanup-passes') {
      return { kind: 'cleanup-pass', node: first };
    }
    if (layoutDir === 'nodes') {
      return { kind: 'registration', node: first, instance: second };
    }
    return layoutDir === 'addresses'
      ? { kind: 'address', pool: first, ip: second }
      : { kind: 'member', pool: first, node: second };
  }

  /** The last path segment of a key under `prefix`, or undefined when the key is not under it. */
  static tail(key: string, prefix: string): string | undefined {
    return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  }
}

/** The smallest key greater than every key that starts with `prefix` (etcd's range_end). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: the range runs to the end of the keyspace.
  return Buffer.from([0]);
}
