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

export class SubnetConflict extends IpamError {
  readonly code = 'subnet-conflict';
  constructor(
    readonly subnet: string,
    readonly other: string,
  ) {
    super(`${subnet} conflict: Conflict with network ${other}`);
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
  constructor(readonly supernet: string) {
    super(`supernet ${supernet} is exhausted: no free subnet of the configured length is left`);
  }
}

export class AddressOutOfRange extends IpamError {
  readonly code = 'address-out-of-range';
}

export class AddressInUse extends IpamError {
  readonly code = 'address-in-use';
  constructor(
    readonly address: string,
    readonly poolId: string,
  ) {
    super(`address ${address} is already allocated in pool ${poolId}`);
  }
}

export class PoolExhausted extends IpamError {
  readonly code = 'pool-exhausted';
  constructor(readonly poolId: string) {
    super(`no addresses available in pool ${poolId}`);
  }
}
