// Issue 15, item 8, through the built plugin: while another live plugin holds its NODE_ID (here
// a registration kept alive by this test, posing as a plugin on host "host-twin"), /readyz fails
// its node-id check and the plugin logs an error naming both hosts; once the other one stops,
// /readyz is 200 again.
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { RawEtcd, startRegistration, type RegisteredPlugin } from '../int/harness.js';
import { startPluginOnPrefix, type PluginOnPrefix } from '../support/docker-fixture.js';
import { eventually, httpGet, type PluginProcess } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');

describe('the node-id check of /readyz', () => {
  let fixture: PluginOnPrefix;
  let plugin: PluginProcess;
  let prefix: string;
  let raw: RawEtcd;

  beforeAll(async () => {
    fixture = await startPluginOnPrefix({ endpoints, nodeId: 'twin', label: 'node-id' });
    ({ plugin, prefix, raw } = fixture);
  });
  afterAll(() => fixture?.stop());

  const readyz = () => httpGet(`${plugin.healthUrl}/readyz`);

  it('should fail while another live plugin holds the NODE_ID, and pass again once it stops', async () => {
    await eventually('/readyz 200', async () => (await readyz()).status === 200);
    expect((await readyz()).body).toEqual({
      status: 'ready',
      checks: { etcd: 'ok', socket: 'ok', 'node-id': 'ok' },
    });
    const registered = await raw.keys('nodes/twin/');
    expect(registered).toHaveLength(1);

    let twin: RegisteredPlugin | undefined = await startRegistration({
      nodeId: 'twin',
      endpoints,
      prefix,
      host: 'host-twin',
      ttlSeconds: 2,
    });
    try {
      // The plugin renews every third of its 10 s lease and judges the twin after the twin's TTL.
      await eventually(
        '/readyz to name the twin',
        async () => (await readyz()).status === 503,
        20_000,
      );
      expect((await readyz()).body).toEqual({
        status: 'not ready',
        checks: {
          etcd: 'ok',
          socket: 'ok',
          'node-id': expect.stringMatching(
            /^NODE_ID twin is also held by a live kontena-ipam on host host-twin \(pid \d+, version 0\.0\.0-test, started .*, instance [0-9a-f-]{36}\)$/,
          ),
        },
      });
      expect(plugin.output()).toMatch(
        new RegExp(
          `NODE_ID twin is held by a live kontena-ipam on host host-twin .*, as well as by this ` +
            `plugin on host ${hostname()} \\(pid ${plugin.child.pid}, instance ${registered[0]?.split('/')[2]}\\)`,
        ),
      );

      await twin.close();
      twin = undefined;
      await eventually('/readyz 200 again', async () => (await readyz()).status === 200, 15_000);
      expect(plugin.output()).toContain('NODE_ID twin is held by this plugin alone again');
    } finally {
      await twin?.close();
    }
  });
});
