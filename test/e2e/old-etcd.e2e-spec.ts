// Issue 15, item 7, through the built plugin: on an etcd older than 3.3 Docker's handshake is
// answered as ever, every call that needs etcd fails with a 503 that names the version, and
// /readyz's etcd check says the same. A proxy makes the test's etcd 3.4 member say 3.2
// (test/support/version-proxy.ts).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { RawEtcd } from '../int/harness.js';
import { startPluginOnPrefix, type PluginOnPrefix } from '../support/docker-fixture.js';
import { startVersionProxy, type VersionProxy } from '../support/version-proxy.js';
import { eventually, httpGet, pluginCall, type PluginProcess } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');

describe.skipIf(!endpoints[0]?.startsWith('http://'))('the plugin on etcd 3.2', () => {
  let proxy: VersionProxy;
  let fixture: PluginOnPrefix;
  let plugin: PluginProcess;
  let raw: RawEtcd;

  beforeAll(async () => {
    proxy = await startVersionProxy(endpoints[0] ?? '');
    proxy.reportVersion('3.2.26');
    // The plugin talks to etcd through the proxy; the test's own client (raw) does not.
    fixture = await startPluginOnPrefix({
      endpoints,
      nodeId: 'old-etcd',
      label: 'old-etcd',
      env: { ETCD_ENDPOINT: proxy.url },
    });
    ({ plugin, raw } = fixture);
  });
  afterAll(async () => {
    await fixture?.stop();
    await proxy?.close();
  });

  const refusal = (): string =>
    `etcd 3.2.26 at ${proxy.url}: kontena-ipam needs etcd 3.3 or newer (range compares)`;

  it("should answer Docker's handshake", async () => {
    const methods = [
      'Plugin.Activate',
      'IpamDriver.GetCapabilities',
      'IpamDriver.GetDefaultAddressSpaces',
    ];
    const answers: string[] = [];
    for (const method of methods) {
      answers.push(`${method} ${(await pluginCall(plugin.socketPath, method)).status}`);
    }
    expect(answers).toEqual(methods.map((m) => `${m} 200`));
  });

  it('should refuse RequestPool with a 503 that names the version, and write no pool', async () => {
    const reply = await pluginCall(plugin.socketPath, 'IpamDriver.RequestPool', {
      Options: { network: 'old' },
      V6: false,
    });
    expect(reply.status).toBe(503);
    expect(reply.body).toEqual({ Err: refusal(), Error: refusal() });
    expect(await raw.keys('pools/')).toEqual([]);
  });

  it('should say why at /readyz', async () => {
    let ready: { status: number; body: unknown } = { status: 0, body: undefined };
    await eventually('/readyz to name the version', async () => {
      ready = await httpGet(`${plugin.healthUrl}/readyz`);
      return JSON.stringify(ready.body).includes('3.2.26');
    });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not ready', checks: { etcd: refusal() } });
    expect(plugin.output()).toContain(`${refusal()}: every call that needs etcd fails`);
  });
});
