import { IpamError } from '#app/ipam';

/**
 * etcd did not answer within ETCD_WAIT_TIMEOUT (or the request's deadline), refused the
 * credentials, or the plugin is shutting down: the one error of the contract's family that is
 * about etcd (503).
 */
export class StoreUnavailable extends IpamError {
  readonly code = 'store-unavailable';
}

/**
 * etcd answered and refused this request as it is (too large, too many operations): the same
 * request fails alike every time, but another request may pass. A batch of writes that etcd
 * refuses so is worth splitting (libs/allocator/src/address-batch.ts); still a 503 for the
 * caller whose own write it is.
 */
export class RequestRefused extends StoreUnavailable {}
