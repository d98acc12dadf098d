/**
 * One rule each for the two identifiers that become etcd key segments: pool ids and node ids.
 * A `/` would break the key layout (libs/store/README.md); control characters would forge log
 * lines.
 */

/** Shared pool names (`--ipam-opt network=NAME`) and generated ids (`local-<uuid>`) alike. */
export const POOL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const NETWORK_NAME_RULE =
  'expected 1-128 letters, digits, "_", "." or "-", starting with a letter or digit';
/**
 * The IPv6 pool of a dual-stack network is `NAME:v6` beside the IPv4 pool `NAME` (README, "IPv6
 * and dual stack"): `:` is not allowed in a name, so the two ids never collide, and the IPv4 id
 * stays what it always was.
 */
export const V6_POOL_SUFFIX = ':v6';
export const POOL_ID_RULE = `${NETWORK_NAME_RULE}, with "${V6_POOL_SUFFIX}" after it for an IPv6 pool`;

/** A name as `--ipam-opt network=NAME` may give it. */
export function isNetworkName(value: string): boolean {
  return POOL_ID_PATTERN.test(value);
}

/** The pool id of the network `name`'s pool of that family. */
export function poolIdOf(name: string, v6: boolean): string {
  return v6 ? `${name}${V6_POOL_SUFFIX}` : name;
}

/** Pools created without `Options.network` get this prefix and a UUID: private to one network. */
export const LOCAL_POOL_PREFIX = 'local-';

/** A pool id: a name, or a name and V6_POOL_SUFFIX. */
export function isPoolId(value: string): boolean {
  return isNetworkName(
    value.endsWith(V6_POOL_SUFFIX) ? value.slice(0, -V6_POOL_SUFFIX.length) : value,
  );
}

/** NODE_ID: an etcd key segment, so no `/`, whitespace or control characters. */
export const NODE_ID_PATTERN = /^[^/\s\p{Cc}]{1,128}$/u;
export const NODE_ID_RULE = "1 to 128 characters without '/', whitespace or control characters";

export function isNodeId(value: string): boolean {
  return NODE_ID_PATTERN.test(value);
}
