import type { Addr, Prefix } from '#app/net';

/*
 * What the plugin's wire layer hands to the allocators and gets back, after it has parsed
 * Docker's strings once (the part libnetwork's `ipamapi.PoolRequest` plays). Allocators take
 * these values and never parse text again.
 */

/**
 * `AddressSpace`, typed: `local` for LOCAL_ADDRESS_SPACE, `global` for GLOBAL_ADDRESS_SPACE
 * (docker.ts). What dockerd does with the pool depends on it: in the local space,
 * a pool asked for without `Pool` is checked against this host's on-link routes and nameservers,
 * and one that overlaps is held while dockerd asks again (moby/moby libnetwork/network.go,
 * requestPoolHelper).
 */
export type AddressSpace = 'local' | 'global';

/** RequestPool. */
export interface PoolRequest {
  /** `AddressSpace`; undefined when absent or not one of this plugin's. */
  addressSpace?: AddressSpace;
  /** `Pool`: the requested subnet, or undefined for a dynamic pool. */
  subnet?: Prefix;
  /** `SubPool`: the range addresses are handed out from, inside `subnet`. */
  range?: Prefix;
  /** `Options.network`: the shared pool's name; undefined for a pool private to one network. */
  network?: string;
  /** `Options["subnet-length"]`: the prefix length of a dynamic IPv4 pool (else the configured one). */
  subnetLength?: number;
  /** `Options["subnet6-length"]`: the same for a dynamic IPv6 pool (dockerd sends both). */
  subnet6Length?: number;
  /** `Options.exclude`: prefixes of the subnet never handed out dynamically. */
  exclude?: Prefix[];
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
  /** `Options["com.docker.network.endpoint.macaddress"]`: the container's MAC, lower case. */
  mac?: string;
  /**
   * dockerd was told `RequiresMACAddress` (GetCapabilities), so it sends every container's MAC:
   * a static request without options is then an `--aux-address`. Unset, it is an endpoint's.
   */
  macsRequested?: boolean;
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
