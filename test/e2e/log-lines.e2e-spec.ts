import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startPluginOnPrefix, type PluginOnPrefix } from '../support/docker-fixture.js';
import { pluginCall, type PluginProcess } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');
const NAME = 'com.docker.network.endpoint.name';

/** What a forged line would start with: a log line of its own, as the log format writes one. */
const FORGED = '2026-12-06T00:00:00.000Z INFO  [Forged]';

/**
 * No request field can forge a log line (issue #15, item 2): whatever a request holds, the plugin
 * writes one line per event. Values that reach the log are escaped centrally by the log format
 * (libs/logging/src/log-format.ts); endpoint names with control characters are not even stored.
 */
describe('log lines under hostile request fields', () => {
  let fixture: PluginOnPrefix;
  let plugin: PluginProcess;

  beforeAll(async () => {
    fixture = await startPluginOnPrefix({
      endpoints,
      nodeId: 'logs',
      label: 'log-lines',
      env: { LOG_LEVEL: 'debug' },
    });
    ({ plugin } = fixture);
    const pool = await pluginCall(plugin.socketPath, 'IpamDriver.RequestPool', {
      AddressSpace: 'kontenaglobal',
      Pool: '10.70.0.0/24',
      SubPool: '',
      Options: { network: 'logs' },
      V6: false,
    });
    if (pool.status !== 200) {
      throw new Error(`RequestPool failed: ${pool.text}`);
    }
  });

  afterAll(() => fixture?.stop());

  it.each([
    { name: 'an endpoint name with a line feed', body: { Options: { [NAME]: `w\n${FORGED} x` } } },
    {
      name: 'an endpoint name with a carriage return',
      body: { Options: { [NAME]: `w\r${FORGED}` } },
    },
    {
      name: 'an endpoint name with a line separator (stored: not a control character)',
      body: { Options: { [NAME]: `w\u2028${FORGED}` } },
    },
    { name: 'a pool id with a line feed', body: { PoolID: `logs\n${FORGED} x` } },
    { name: 'an address with a line feed', body: { Address: `10.70.0.9\n${FORGED}` } },
  ])('$name never starts a line of its own', async ({ body }) => {
    const before = plugin.output().length;
    const reply = await pluginCall(plugin.socketPath, 'IpamDriver.RequestAddress', {
      PoolID: 'logs',
      Address: '',
      Options: {},
      ...body,
    });
    expect(reply.status).toBeLessThan(500);
    // Let the call's lines (the allocation, a warning, the access line) reach the output.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const written = plugin.output().slice(before);
    expect(written).toContain('Forged'); // the hostile text did reach the log…
    const lines = written.split(/\r\n|\r|\n/).filter((l) => l !== '');
    expect(lines.filter((l) => l.includes(FORGED.slice(0, 24)) && l.startsWith(FORGED))).toEqual(
      [],
    ); // …but inside a line, escaped
    expect(written).not.toMatch(/[\u2028\u2029\r]/);
  });
});
