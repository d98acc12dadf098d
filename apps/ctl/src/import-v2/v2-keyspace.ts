/**
 * Reads kontena-ipam 0.2's state: every key under `/kontena/ipam` of an etcd **v2** keyspace,
 * through etcd's v2 HTTP API (`GET /v2/keys/kontena/ipam?recursive=true`). etcd 3.4 and 3.5 serve
 * it only when started with `--enable-v2`; etcd 3.6 has no v2 API at all.
 */

/** The original's prefix: it was not configurable in 0.2. */
export const V2_PREFIX = '/kontena/ipam';

/** One v2 key under V2_PREFIX: `pools/blue`, `addresses/blue/10.81.0.5`, … */
export interface V2Entry {
  /** The key relative to the prefix, without a leading `/`. */
  key: string;
  value: string;
  /** etcd v2's createdIndex: the older of two overlapping pools is the one imported. */
  createdIndex: number;
}

/** The v2 API could not be read: says what and why, for the operator. */
export class V2ReadError extends Error {}

interface V2Node {
  key?: unknown;
  value?: unknown;
  dir?: unknown;
  nodes?: unknown;
  createdIndex?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The leaves of a recursive v2 GET's `node`, keys relative to `prefix`, in key order. */
export function flattenV2(node: unknown, prefix = V2_PREFIX): V2Entry[] {
  const out: V2Entry[] = [];
  const walk = (n: V2Node): void => {
    if (n.dir === true) {
      for (const child of Array.isArray(n.nodes) ? n.nodes : []) {
        if (isObject(child)) {
          walk(child);
        }
      }
      return;
    }
    if (typeof n.key !== 'string' || typeof n.value !== 'string') {
      return;
    }
    if (!n.key.startsWith(`${prefix}/`)) {
      return;
    }
    out.push({
      key: n.key.slice(prefix.length + 1),
      value: n.value,
      createdIndex: typeof n.createdIndex === 'number' ? n.createdIndex : 0,
    });
  };
  if (isObject(node)) {
    walk(node);
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Every key under V2_PREFIX at `from` (an etcd client URL). No keys at all is an empty list (a
 * 0.2 fleet that never created a pool); an etcd without the v2 API, or none at all, is a
 * V2ReadError that says what to do.
 */
export async function readV2Keyspace(from: URL, timeoutMs: number): Promise<V2Entry[]> {
  const url = new URL(`/v2/keys${V2_PREFIX}?recursive=true&sorted=true`, from);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : '';
    throw new V2ReadError(
      `etcd at ${from.origin} did not answer within ${timeoutMs / 1000} s (${why}): check --from`,
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status === 404 && isObject(body) && body.errorCode === 100) {
    return []; // "Key not found": nothing under the prefix
  }
  if (!res.ok || !isObject(body) || !isObject(body.node)) {
    throw new V2ReadError(
      `etcd at ${from.origin} does not serve the v2 API (GET /v2/keys${V2_PREFIX}: HTTP ` +
        `${res.status}): start etcd 3.4 or 3.5 with --enable-v2 for the import (etcd 3.6 has ` +
        'no v2 API), or point --from at the etcd the 0.2 plugins used',
    );
  }
  return flattenV2(body.node);
}
