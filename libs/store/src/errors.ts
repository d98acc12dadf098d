import { IpamError } from '#app/ipam';

/**
 * etcd did not answer within ETCD_WAIT_TIMEOUT (or the request's deadline), refused the
 * credentials, or the plugin is shutting down: the one error of the contract's family that is
 * about etcd (503).
 */
export class StoreUnavailable extends IpamError {
  readonly code = 'store-unavailable';
}
