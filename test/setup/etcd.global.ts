// Vitest globalSetup for the int and e2e projects: one etcd for the whole run.
// With ETCD_ENDPOINT set (comma-separated URLs allowed) that etcd is used instead of a new one.
// Tests read the client URLs with inject('etcdEndpoints') and keep to a uniquePrefix().
import type { TestProject } from 'vitest/node';

import { startEtcd, waitForEtcdEndpoint } from '../support/etcd.js';

function parseEndpoints(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`))
    .map((s) => s.replace(/\/+$/, ''));
}

export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  const external = parseEndpoints(process.env.ETCD_ENDPOINT ?? '');
  if (external.length > 0) {
    await Promise.any(external.map((e) => waitForEtcdEndpoint(e, 10_000))).catch((e: unknown) => {
      throw new Error(`ETCD_ENDPOINT=${process.env.ETCD_ENDPOINT} does not answer /version`, {
        cause: e,
      });
    });
    provide('etcdEndpoints', external);
    return async () => {};
  }
  const cluster = await startEtcd({ name: 'global' });
  provide('etcdEndpoints', cluster.endpoints);
  return async () => {
    await cluster.stop();
  };
}
