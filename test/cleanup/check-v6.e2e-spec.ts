// `kontena-ipam-cleanup --check`, the built CLI on a real etcd, over IPv6 and dual-stack pools
// written by the plugin: hex subnet keys, RFC 5952 address keys and the cluster's supernet.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { CheckReport } from '../../apps/cleanup/src/check.js';
import { pluginCall } from '../e2e/plugin-process.js';
import { RawEtcd } from '../int/harness.js';
import { startPluginOnPrefix, type PluginOnPrefix } from '../support/docker-fixture.js';
import { runCleanupCli } from './cleanup-process.js';

const endpoints = inject('etcdEndpoints');

describe('kontena-ipam-cleanup --check with IPv6 pools', () => {
  let fixture: PluginOnPrefix;
  let raw: RawEtcd;
  let prefix: string;
  const env = (): Record<string, string> => ({
    NODE_ID: 'checker',
    ETCD_ENDPOINT: endpoints.join(','),
    ETCD_PREFIX: prefix,
    ETCD_WAIT_TIMEOUT: '10',
    DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    LOG_LEVEL: 'warn',
  });

  beforeAll(async () => {
    fixture = await startPluginOnPrefix({ endpoints, nodeId: 'node-a', label: 'check-v6' });
    ({ prefix, raw } = fixture);
    const { plugin } = fixture;
    try {
      const call = async (method: string, body: unknown): Promise<Record<string, unknown>> => {
        const reply = await pluginCall(plugin.socketPath, method, body, { timeoutMs: 30_000 });
        expect(reply.status, `${method}: ${reply.text}`).toBe(200);
        return reply.body ?? {};
      };
      await call('IpamDriver.RequestPool', { Options: { network: 'dual' }, V6: false });
      await call('IpamDriver.RequestPool', { Options: { network: 'dual' }, V6: true });
      await call('IpamDriver.RequestAddress', { PoolID: 'dual:v6', Options: null });
      await call('IpamDriver.RequestPool', {
        Pool: 'fd00:5::/64',
        Options: { network: 's' },
        V6: true,
      });
      await call('IpamDriver.RequestAddress', {
        PoolID: 's:v6',
        Address: 'fd00:5::ffff:ffff:ffff:ffff',
        Options: null,
      });
    } finally {
      await plugin.stop();
    }
  });

  afterAll(() => fixture?.stop());

  it('should find the store consistent, and show the cluster supernet', async () => {
    const supernet = (
      JSON.parse((await raw.client.get(`${prefix}/supernet6`).string())!) as {
        supernet: string;
      }
    ).supernet;
    const json = await runCleanupCli(['--check', '--json'], env());
    expect({ code: json.code, stderr: json.stderr }).toMatchObject({ code: 0 });
    const report = JSON.parse(json.stdout) as CheckReport;
    expect(report).toMatchObject({
      ok: true,
      counts: { pools: 3, subnets: 3, addresses: 5, memberships: 3, other: 0 },
      violations: [],
    });
    expect(report.notes.map((n) => [n.kind, n.message])).toEqual([
      [
        'supernet6',
        `the cluster's IPv6 supernet is ${supernet} (dynamic IPv6 pools of nodes without KONTENA_IPAM_SUPERNET6)`,
      ],
    ]);
  });

  it('should report an IPv6 address key not in RFC 5952 text', async () => {
    await raw.client
      .put(`${prefix}/addresses/s:v6/fd00:5:0:0::9`)
      .value(JSON.stringify({ address: 'fd00:5::9/64', node: 'node-a', type: 'endpoint' }));
    const text = await runCleanupCli(['--check'], env());
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(
      'violation invalid-key: key addresses/s:v6/fd00:5:0:0::9 is not addresses/<pool id>/<IP address>',
    );
  });
});
