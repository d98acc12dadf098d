/** What the plugin's controllers hand to the allocators, after DTO validation. */
export interface PoolRequest {
  /** `Pool`: the requested subnet in CIDR form, or undefined for a dynamic pool. */
  pool?: string;
  /** `SubPool`: the range addresses are handed out from, inside `pool`. */
  subPool?: string;
  /** `Options` as Docker sent them (`null` becomes `{}`). */
  options: Record<string, string>;
  v6: boolean;
}

export interface PoolReply {
  poolId: string;
  /** The subnet in CIDR form. */
  pool: string;
  /** `{"com.docker.network.gateway": "<gateway>/<len>"}` */
  data: Record<string, string>;
}

export interface AddressRequest {
  poolId: string;
  /** A host address without mask, or undefined for any free address. */
  address?: string;
  options: Record<string, string>;
}

export interface AddressReply {
  /** `<ip>/<pool prefix length>` */
  address: string;
  data: Record<string, string>;
}

export interface ReleaseAddressRequest {
  poolId: string;
  address: string;
}

export const GATEWAY_OPTION = 'RequestAddressType';
export const GATEWAY_TYPE = 'com.docker.network.gateway';
export const ENDPOINT_NAME_OPTION = 'com.docker.network.endpoint.name';
export const NETWORK_OPTION = 'network';
