import { Prefix } from '#app/net';

/**
 * The etcd key layout, in one place (spec C.3). Keys keep the original project's paths so an
 * operator who knows kontena-ipam 0.2 can read the store with etcdctl:
 *
 *   <prefix>/pools/<id>                 {"subnet","iprange"?,"gateway","req"}
 *   <prefix>/subnets/<network address>  {"address":"<net>/<len>","pool":"<id>","req"}
 *   <prefix>/addresses/<id>/<ip>        {"address":"<ip>/<len>","node","type","name"?,"req"}
 *   <prefix>/pool-nodes/<id>/<node>     {"refs":n,"req"}
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
  /** Keyed by network address only: two subnets with the same base address overlap anyway. */
  subnet(network: string): string {
    return `${this.subnetsPrefix}${network}`;
  }
  /**
   * The subnet keys a reservation of `subnet` must see unchanged since its read: every key whose
   * subnet could overlap it. A subnet inside it has its network address inside it, so its key
   * starts with the reservation's whole octets (`prefix`: one range, a superset of those keys); a
   * subnet around it has one of the reservation's shorter masks as its network address (`keys`:
   * at most one per shorter length). Keys are dotted quads, which do not sort as numbers: only
   * whole octets make a key prefix, hence the rounding down to them (and to at most three
   * octets). IPv4 only, as are the pools.
   */
  subnetOverlapFence(subnet: Prefix): { prefix: string; keys: string[] } {
    // At most three: a /32's own key has no dot after its fourth octet.
    const whole = Math.min(Math.floor(subnet.length / 8), 3);
    const octets = subnet.network().toString().split('.').slice(0, whole);
    const prefix = `${this.subnetsPrefix}${octets.map((o) => `${o}.`).join('')}`;
    const keys = new Set<string>();
    for (let l = 0; l < subnet.length; l++) {
      const key = this.subnet(Prefix.of(subnet.addr, l).network().toString());
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
