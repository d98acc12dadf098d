// A loopback TCP proxy in front of one plain-HTTP etcd member that makes it look older: while
// `reportVersion(v)` is set, the version string in etcd's replies (Maintenance.Status says which
// version a member runs) is replaced by `v`. gRPC messages are uncompressed protobuf, so a
// substitution of the same length keeps every length prefix and frame valid: "3.4.23" can become
// "3.2.26", not "3.2.9".
import { DATA, startEtcdProxy } from './etcd-proxy.js';

export interface VersionProxy {
  /** `http://127.0.0.1:PORT`, to use as the client's etcd endpoint. */
  readonly url: string;
  /** The version the member really reports (read from its /version). */
  readonly realVersion: string;
  /** Replies rewritten so far. */
  readonly rewritten: number;
  /** From now on the member says `version` (same length as the real one); undefined: the truth. */
  reportVersion(version: string | undefined): void;
  /** Drops every connection now: the client reconnects. */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startVersionProxy(target: string): Promise<VersionProxy> {
  const res = await fetch(`${target}/version`, { signal: AbortSignal.timeout(5_000) });
  const realVersion = ((await res.json()) as { etcdserver: string }).etcdserver;
  const real = Buffer.from(realVersion);
  let fake: Buffer | undefined;
  let rewritten = 0;
  const proxy = await startEtcdProxy(target, {
    reply(frame) {
      if (fake === undefined || frame.type !== DATA || frame.raw.indexOf(real) < 0) {
        return 'forward';
      }
      const bytes = Buffer.from(frame.raw);
      for (let at = bytes.indexOf(real); at >= 0; at = bytes.indexOf(real, at + real.length)) {
        fake.copy(bytes, at);
      }
      rewritten++;
      return { rewrite: bytes };
    },
  });
  return {
    url: proxy.url,
    realVersion,
    get rewritten() {
      return rewritten;
    },
    reportVersion(version) {
      if (version !== undefined && Buffer.byteLength(version) !== real.length) {
        throw new Error(`"${version}" must have the length of "${realVersion}"`);
      }
      fake = version === undefined ? undefined : Buffer.from(version);
    },
    cutAll: () => proxy.cutAll(),
    close: () => proxy.close(),
  };
}
