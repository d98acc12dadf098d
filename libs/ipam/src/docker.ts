/**
 * Docker's names for what travels in the IPAM calls' `Options` and `Data` maps, in one place
 * (moby/moby libnetwork/ipamapi/labels.go and netlabel/labels.go).
 */

/** `Data` key of a RequestPool reply: the pool's gateway as `<ip>/<len>`. */
export const GATEWAY_DATA_KEY = 'com.docker.network.gateway';

/** `Options` key of a RequestAddress for a gateway, with {@link GATEWAY_ADDRESS_TYPE}. */
export const REQUEST_ADDRESS_TYPE_OPTION = 'RequestAddressType';
export const GATEWAY_ADDRESS_TYPE = 'com.docker.network.gateway';

/** `Options` key of a container's RequestAddress: the endpoint (container) name, Engine ≥ 29. */
export const ENDPOINT_NAME_OPTION = 'com.docker.network.endpoint.name';

/**
 * `Options` key of a container's RequestAddress: the endpoint's MAC address, sent because
 * GetCapabilities answers `RequiresMACAddress: true` (moby/moby libnetwork/netlabel/labels.go,
 * `MacAddress`). An `--aux-address` request carries no options at all.
 */
export const MAC_ADDRESS_OPTION = 'com.docker.network.endpoint.macaddress';

/** `--ipam-opt network=NAME`: the shared pool's id (README, "A static network"). */
export const NETWORK_OPTION = 'network';
/** `--ipam-opt subnet-length=N`: the prefix length of a dynamic IPv4 pool. */
export const SUBNET_LENGTH_OPTION = 'subnet-length';
/** `--ipam-opt subnet6-length=N`: the prefix length of a dynamic IPv6 pool. */
export const SUBNET6_LENGTH_OPTION = 'subnet6-length';
/** `--ipam-opt exclude=CIDR[,CIDR…]`: addresses never handed out dynamically. */
export const EXCLUDE_OPTION = 'exclude';

/** Every `--ipam-opt` key this plugin knows (README, "Options"). */
export const POOL_OPTION_KEYS: readonly string[] = [
  NETWORK_OPTION,
  SUBNET_LENGTH_OPTION,
  SUBNET6_LENGTH_OPTION,
  EXCLUDE_OPTION,
];

/**
 * The address spaces this plugin names in `GetDefaultAddressSpaces`. dockerd asks in the local one
 * for a local-scope network (a bridge network: moby/moby libnetwork/network.go, deriveAddressSpace)
 * and in the global one for a swarm-scope network.
 */
export const LOCAL_ADDRESS_SPACE = 'kontenalocal';
export const GLOBAL_ADDRESS_SPACE = 'kontenaglobal';
