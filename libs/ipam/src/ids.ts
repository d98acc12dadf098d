/**
 * One rule each for the two identifiers that become etcd key segments: pool ids and node ids.
 * A `/` would break the key layout (libs/store/README.md); control characters would forge log
 * lines.
 */

/** Shared pool names (`--ipam-opt network=NAME`) and generated ids (`local-<uuid>`) alike. */
export const POOL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const POOL_ID_RULE =
  'expected 1-128 letters, digits, "_", "." or "-", starting with a letter or digit';

/** Pools created without `Options.network` get this prefix and a UUID: private to one network. */
export const LOCAL_POOL_PREFIX = 'local-';

export function isPoolId(value: string): boolean {
  return POOL_ID_PATTERN.test(value);
}

/** NODE_ID: an etcd key segment, so no `/`, whitespace or control characters. */
export const NODE_ID_PATTERN = /^[^/\s\p{Cc}]{1,128}$/u;
export const NODE_ID_RULE = "1 to 128 characters without '/', whitespace or control characters";

export function isNodeId(value: string): boolean {
  return NODE_ID_PATTERN.test(value);
}
