/**
 * The plugin's error family, as libnetwork's `ipamapi` keeps its well-known errors next to the
 * interface (moby/moby libnetwork/ipamapi/contract.go). Every failure that reaches Docker is one
 * of these; the plugin's exception filter maps `code` to an HTTP status (docs/design.md, "A
 * RequestAddress, end to end") and sends `message` as `Err`. Messages are one sentence naming
 * the offending value, never an etcd key or a credential.
 */
export type IpamErrorCode =
  | 'invalid-request'
  | 'unsupported'
  | 'pool-not-found'
  | 'pool-mismatch'
  | 'subnet-conflict'
  | 'supernet-exhausted'
  | 'address-out-of-range'
  | 'address-in-use'
  | 'pool-exhausted'
  | 'store-unavailable';

export abstract class IpamError extends Error {
  abstract readonly code: IpamErrorCode;
  override get name(): string {
    return this.constructor.name;
  }
}

/** A request whose shape or values are wrong (bad CIDR, SubPool outside Pool, bad network name). */
export class InvalidRequest extends IpamError {
  readonly code = 'invalid-request';
}

/** A valid request for something this plugin does not do. */
export class Unsupported extends IpamError {
  readonly code = 'unsupported';
}

export class PoolNotFound extends IpamError {
  readonly code = 'pool-not-found';
  constructor(readonly poolId: string) {
    super(`pool ${poolId} does not exist`);
  }
}

/** A shared pool requested with a Pool or SubPool that differs from the stored one. */
export class PoolMismatch extends IpamError {
  readonly code = 'pool-mismatch';
}

/** A static subnet overlapping a reserved one: names the pool holding the other subnet. */
export class SubnetConflict extends IpamError {
  readonly code = 'subnet-conflict';
  constructor(
    readonly subnet: string,
    readonly other: string,
    readonly otherPool?: string,
  ) {
    const pool = otherPool === undefined ? '' : ` of pool ${otherPool}`;
    super(`${subnet} conflict: Conflict with network ${other}${pool}; choose another --subnet`);
  }
}

/**
 * A shared pool that dockerd would refuse on this host for a network created without `--subnet`:
 * it overlaps an on-link route or a nameserver here (libs/allocator/src/host-networks.ts).
 */
export class HostNetworkConflict extends IpamError {
  readonly code = 'subnet-conflict';
}

export class SupernetExhausted extends IpamError {
  readonly code = 'supernet-exhausted';
  /** `supernets`: every supernet that was tried, in order. */
  constructor(readonly supernets: readonly string[]) {
    super(
      supernets.length === 1
        ? `supernet ${supernets[0]} is exhausted: no free subnet of the configured length is left`
        : `supernets ${supernets.join(', ')} are exhausted: none has a free subnet of the configured length left`,
    );
  }
}

export class AddressOutOfRange extends IpamError {
  readonly code = 'address-out-of-range';
}

/** Who holds an address, from its stored record: named in AddressInUse's message. */
export interface AddressHolder {
  node: string;
  /** `gateway`, `aux`, or `endpoint` (a container, or an aux address before Engine 29) */
  type?: string;
  /** the container's name (Engine 29 and later) */
  name?: string;
}

function heldAs(h: AddressHolder): string {
  if (h.type === 'gateway') {
    return 'as a network gateway';
  }
  if (h.type === 'aux') {
    return 'as an --aux-address';
  }
  return h.name === undefined ? 'for a container (or an --aux-address)' : `for container ${h.name}`;
}

export class AddressInUse extends IpamError {
  readonly code = 'address-in-use';
  constructor(
    readonly address: string,
    readonly poolId: string,
    readonly holder?: AddressHolder,
  ) {
    const by = holder === undefined ? '' : `, held by node ${holder.node} ${heldAs(holder)}`;
    super(`address ${address} is already allocated in pool ${poolId}${by}`);
  }
}

/** Says where to look (`show`) and how to free leaked addresses (the cleanup). */
export class PoolExhausted extends IpamError {
  readonly code = 'pool-exhausted';
  constructor(readonly poolId: string) {
    super(
      `no addresses available in pool ${poolId}: \`kontena-ipam-ctl show ${poolId}\` lists ` +
        'who holds them; `kontena-ipam-cleanup` on each host frees those its Docker no longer uses',
    );
  }
}
