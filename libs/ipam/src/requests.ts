import type { Addr, Prefix } from '#app/net';

/*
 * What the plugin's wire layer hands to the allocators and gets back, after it has parsed
 * Docker's strings once (the part libnetwork's `ipamapi.PoolRequest` plays). Allocators take
 * these values and never parse text again.
 */

/** RequestPool. */
export interface PoolRequest {
  /** `Pool`: the requested subnet, or undefined for a dynamic pool. */
  subnet?: Prefix;
  /** `SubPool`: the range addresses are handed out from, inside `subnet`. */
  range?: Prefix;
  /** `Options.network`: the shared pool's name; undefined for a pool private to one network. */
  network?: string;
  /** `V6`. */
  v6: boolean;
}

export interface PoolReply {
  poolId: string;
  /** The subnet in CIDR form. */
  pool: string;
  /** `{"com.docker.network.gateway": "<gateway>/<len>"}` */
  data: Record<string, string>;
}

/** RequestAddress. */
export interface AddressRequest {
  poolId: string;
  /** `Address`: a host address, or undefined for any free address. */
  address?: Addr;
  /** `Options.RequestAddressType` is the gateway type: Docker asks for the network's gateway. */
  gateway: boolean;
  /** `Options["com.docker.network.endpoint.name"]` (Engine ≥ 29). */
  endpointName?: string;
}

export interface AddressReply {
  /** `<ip>/<pool prefix length>` */
  address: string;
  data: Record<string, string>;
}

/** ReleaseAddress. */
export interface ReleaseAddressRequest {
  poolId: string;
  address: Addr;
}
