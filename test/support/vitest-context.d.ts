// Values handed from globalSetup modules (test/setup/*.global.ts) to tests via inject().
// (A module file, so that `declare module 'vitest'` augments rather than replaces.)

/** Client URLs (`http://127.0.0.1:PORT`) of the etcd shared by one test run. */
export type EtcdEndpoints = string[];

declare module 'vitest' {
  export interface ProvidedContext {
    /** The etcd that test/setup/etcd.global.ts started, or the one in ETCD_ENDPOINT. */
    etcdEndpoints: EtcdEndpoints;
  }
}
