import { afterEach, describe, expect, inject, it } from 'vitest';

import { CTL_MAIN, runCleanupCli } from '../cleanup/cleanup-process.js';
import { RawEtcd } from '../int/harness.js';
import { uniquePrefix } from '../support/prefix.js';
import { eventually, pluginCall, startPlugin, type PluginProcess } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');
const PASSWORD = 'pa55-Secret-xyz';

/** Every line of `text` as JSON; fails on one that is not a JSON object with the four keys. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const parsed: unknown = JSON.parse(line);
      expect({ line, parsed }).toMatchObject({
        parsed: {
          time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          level: expect.stringMatching(/^(debug|info|warn|error)$/),
          msg: expect.any(String),
        },
      });
      return parsed as Record<string, unknown>;
    });
}

/** LOG_FORMAT=json for the built plugin and the built ctl: JSON lines, fields, no secret. */
describe('LOG_FORMAT=json', () => {
  let plugin: PluginProcess | undefined;
  let raw: RawEtcd | undefined;
  let prefix: string;

  afterEach(async () => {
    await plugin?.stop();
    plugin = undefined;
    await raw?.client.delete().prefix(`${prefix}/`);
    raw?.close();
    raw = undefined;
  });

  it("should make every plugin line a JSON object, with an allocation's and a call's fields", async () => {
    prefix = uniquePrefix('log-json');
    raw = new RawEtcd(endpoints, prefix);
    plugin = await startPlugin({
      env: {
        NODE_ID: 'json-1',
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_PREFIX: prefix,
        LOG_FORMAT: 'json',
      },
    });
    const socket = plugin.socketPath;
    const pool = await pluginCall(socket, 'IpamDriver.RequestPool', {
      AddressSpace: '',
      Pool: '',
      SubPool: '',
      Options: { network: 'lj' },
      V6: false,
    });
    expect(pool.status).toBe(200);
    const address = await pluginCall(socket, 'IpamDriver.RequestAddress', {
      PoolID: 'lj',
      Address: '',
      Options: { 'com.docker.network.endpoint.name': 'web-1' },
    });
    expect(address.status).toBe(200);
    const ip = String(address.body?.Address).split('/')[0];
    await eventually(
      'the call logged',
      () => plugin?.output().includes('RequestAddress 200') ?? false,
    );
    await plugin.stop();

    const lines = jsonLines(plugin.output());
    expect(lines.find((l) => l.context === 'AddressAllocator' && l.address === ip)).toMatchObject({
      level: 'info',
      msg: expect.stringContaining(`allocated address ${ip} in pool lj to node json-1`),
      pool: 'lj',
      node: 'json-1',
      kind: 'endpoint',
      endpoint: 'web-1',
    });
    expect(lines.find((l) => l.call === 'IpamDriver.RequestAddress')).toMatchObject({
      level: 'debug',
      context: 'PluginCall',
      status: 200,
      duration: expect.any(Number),
    });
  });

  it('should never log the etcd password', async () => {
    plugin = await startPlugin({
      env: {
        NODE_ID: 'json-2',
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_USERNAME: 'ipam',
        ETCD_PASSWORD: PASSWORD,
        LOG_FORMAT: 'json',
      },
    });
    await eventually(
      'the start-up line',
      () => plugin?.output().includes('starting with') ?? false,
    );
    await plugin.stop();
    const output = plugin.output();
    expect(output).not.toContain(PASSWORD);
    expect(jsonLines(output).find((l) => String(l.msg).includes('starting with'))?.msg).toContain(
      '"password":"***"',
    );
  });

  it("should make the ctl's log lines JSON on stderr, its report still on stdout", async () => {
    prefix = uniquePrefix('log-json-ctl');
    raw = new RawEtcd(endpoints, prefix);
    const res = await runCleanupCli(
      ['show', '--json'],
      {
        NODE_ID: 'json-ctl',
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_PREFIX: prefix,
        LOG_LEVEL: 'debug',
        LOG_FORMAT: 'json',
      },
      60_000,
      CTL_MAIN,
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ prefix, pools: [] });
    expect(jsonLines(res.stderr).length).toBeGreaterThan(0);
  });
});
