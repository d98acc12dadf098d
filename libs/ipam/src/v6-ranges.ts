import { Prefix } from '#app/net';

/**
 * IPv6 ranges where no address can serve a container on a Docker network: a static IPv6 pool or a
 * KONTENA_IPAM_SUPERNET6 that overlaps one is refused. The most specific first, so the message
 * names the range an operator most likely meant.
 */
export const V6_NO_CONTAINER_RANGES: readonly { range: Prefix; what: string }[] = [
  { range: Prefix.parse('::ffff:0:0/96'), what: 'IPv4-mapped (RFC 4291)' },
  { range: Prefix.parse('::/8'), what: 'unspecified, loopback and IPv4-compatible (RFC 4291)' },
  { range: Prefix.parse('fe80::/10'), what: 'link-local (RFC 4291)' },
  { range: Prefix.parse('ff00::/8'), what: 'multicast (RFC 4291)' },
];

/**
 * The range of V6_NO_CONTAINER_RANGES that holds `prefix`, else the first that `prefix` overlaps
 * (`::/64` holds the IPv4-mapped range, but lies in `::/8`), or undefined.
 */
export function v6NoContainerRange(prefix: Prefix): { range: Prefix; what: string } | undefined {
  return (
    V6_NO_CONTAINER_RANGES.find((r) => r.range.containsPrefix(prefix)) ??
    V6_NO_CONTAINER_RANGES.find((r) => r.range.overlaps(prefix))
  );
}

/** Shortest and longest IPv6 pool: /48 (a site) to /120 (256 addresses). */
export const MIN_V6_POOL_LENGTH = 48;
export const MAX_V6_POOL_LENGTH = 120;
