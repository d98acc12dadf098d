// `kontena-ipam-cleanup --check` (issue 5, item 3), the built CLI on a real etcd: a store written
// by the plugin is consistent; keys broken by hand are each reported, with exit status 1.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import type { CheckReport } from '../../apps/cleanup/src/check.js';
import { pluginCall, startPlugin } from '../e2e/plugin-process.js';
import { RawEtcd } from '../int/harness.js';
import { uniquePrefix } from '../support/prefix.js';
import { runCleanupCli } from './cleanup-process.js';

const endpoints = inject('etcdEndpoints');

/** The check's environment: etcd only. DOCKER_HOST points nowhere: the check never asks. */
function env(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ID: 'checker',
    ETCD_ENDPOINT: endpoints.join(','),
    ETCD_PREFIX: prefix,
    ETCD_WAIT_TIMEOUT: '10',
    DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

function parseReport(stdout: string): CheckReport {
  return JSON.parse(stdout) as CheckReport;
}

describe('kontena-ipam-cleanup --check', () => {
  let raw: RawEtcd;
  const prefixes: string[] = [];
  const newPrefix = (label: string): string => {
    const p = uniquePrefix(label);
    prefixes.push(p);
    return p;
  };

  beforeAll(() => {
    raw = new RawEtcd(endpoints, '/unused');
  });

  afterAll(async () => {
    for (const p of prefixes) {
      await raw.client.delete().prefix(`${p}/`);
    }
    raw.close();
  });

  it('should find a store written by the plugin consistent, and exit 0', async () => {
    const prefix = newPrefix('check-clean');
    const plugin = await startPlugin({
      env: { NODE_ID: 'node-a', ETCD_ENDPOINT: endpoints.join(','), ETCD_PREFIX: prefix },
    });
    try {
      const call = async (method: string, body: unknown): Promise<Record<string, unknown>> => {
        const reply = await pluginCall(plugin.socketPath, method, body, { timeoutMs: 30_000 });
        expect(reply.status, `${method}: ${reply.text}`).toBe(200);
        return reply.body ?? {};
      };
      await call('IpamDriver.RequestPool', { Pool: '10.77.0.0/16', Options: { network: 'k' } });
      await call('IpamDriver.RequestAddress', { PoolID: 'k', Options: null });
      await call('IpamDriver.RequestAddress', { PoolID: 'k', Address: '10.77.9.9', Options: null });
      const local = await call('IpamDriver.RequestPool', { Options: {} });
      await call('IpamDriver.RequestAddress', { PoolID: local.PoolID, Options: null });
    } finally {
      await plugin.stop();
    }

    const text = await runCleanupCli(['--check'], env(prefix));
    expect({ code: text.code, stderr: text.stderr }).toMatchObject({ code: 0 });
    expect(text.stdout).toMatch(
      new RegExp(
        `^check of etcd prefix ${prefix} at revision \\d+: 2 pools, 2 subnets, 5 addresses, 2 memberships; 0 violations, 0 notes \\(consistent\\)\\n$`,
      ),
    );

    const json = await runCleanupCli(['--check', '--json'], env(prefix));
    expect({ code: json.code, stderr: json.stderr }).toMatchObject({ code: 0 });
    const report = parseReport(json.stdout);
    expect(report).toMatchObject({
      ok: true,
      mode: 'check',
      prefix,
      counts: { pools: 2, subnets: 2, addresses: 5, memberships: 2, other: 0 },
      violations: [],
      notes: [],
    });
  });

  it('should report each broken key, and exit 1', async () => {
    const prefix = newPrefix('check-broken');
    const put = async (key: string, value: unknown): Promise<void> => {
      await raw.client.put(`${prefix}/${key}`).value(JSON.stringify(value));
    };
    /** A pool as the plugin writes it: pool, subnet key, gateway, one membership. */
    const pool = async (id: string, subnet: string, gw: string, parts = ['gw', 'member']) => {
      const len = subnet.split('/')[1] ?? '';
      await put(`pools/${id}`, { subnet, gateway: `${gw}/${len}` });
      await put(`subnets/${subnet.split('/')[0] ?? ''}`, { address: subnet, pool: id });
      if (parts.includes('gw')) {
        await put(`addresses/${id}/${gw}`, { address: `${gw}/${len}`, node: 'n', type: 'gateway' });
      }
      if (parts.includes('member')) {
        await put(`pool-nodes/${id}/n`, { refs: 1 });
      }
    };
    await pool('ok', '10.60.1.0/24', '10.60.1.1');
    // overlapping subnets: big contains ok
    await pool('big', '10.60.0.0/16', '10.60.0.1');
    // an orphan subnet key
    await put('subnets/10.70.0.0', { address: '10.70.0.0/24', pool: 'ghost' });
    // an address outside its pool
    await put('addresses/ok/10.99.0.5', { address: '10.99.0.5/24', node: 'n', type: 'endpoint' });
    // a membership of a missing pool
    await put('pool-nodes/gone/n', { refs: 1 });
    // a pool without its gateway
    await pool('nogw', '10.71.0.0/24', '10.71.0.1', ['member']);
    // a memberless pool: only a note
    await pool('idle', '10.72.0.0/24', '10.72.0.1', ['gw']);

    const json = await runCleanupCli(['--check', '--json'], env(prefix));
    expect({ code: json.code, stderr: json.stderr }).toMatchObject({ code: 1 });
    expect(json.stderr).toContain('5 violation(s)');
    const report = parseReport(json.stdout);
    expect(report.ok).toBe(false);
    expect(report.violations.map((v) => [v.kind, v.key])).toEqual([
      ['address-outside-pool', 'addresses/ok/10.99.0.5'],
      ['member-without-pool', 'pool-nodes/gone/n'],
      ['overlapping-subnets', 'pools/big'],
      ['pool-without-gateway', 'pools/nogw'],
      ['subnet-without-pool', 'subnets/10.70.0.0'],
    ]);
    expect(report.notes.map((n) => [n.kind, n.key])).toEqual([['memberless-pool', 'pools/idle']]);

    const text = await runCleanupCli(['--check'], env(prefix));
    expect(text.code).toBe(1);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toEqual([
      'violation address-outside-pool: address 10.99.0.5 lies outside the subnet 10.60.1.0/24 of its pool ok [addresses/ok/10.99.0.5]',
      'violation member-without-pool: node n is a member of pool gone, which does not exist [pool-nodes/gone/n]',
      'violation overlapping-subnets: pools big (10.60.0.0/16) and ok (10.60.1.0/24) overlap',
      'violation pool-without-gateway: pool nogw has no address key for its gateway 10.71.0.1 [addresses/nogw/10.71.0.1 is missing]',
      'violation subnet-without-pool: subnet 10.70.0.0/24 is reserved for pool ghost, which does not exist [subnets/10.70.0.0]',
      'note memberless-pool: pool idle (10.72.0.0/24) has no member node: a cleanup pass deletes it',
      expect.stringMatching(
        /^check of etcd prefix \S+ at revision \d+: 4 pools, 5 subnets, 4 addresses, 4 memberships; 5 violations, 1 note \(INCONSISTENT\)$/,
      ) as string,
    ]);
  });

  it('should exit 1 when etcd cannot be read, naming no credential', async () => {
    const prefix = newPrefix('check-down');
    const result = await runCleanupCli(
      ['--check'],
      env(prefix, {
        ETCD_ENDPOINT: 'http://127.0.0.1:1',
        ETCD_WAIT_TIMEOUT: '1',
        ETCD_USERNAME: 'root',
        ETCD_PASSWORD: 's3cret-pw',
      }),
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAILED: etcd is unreachable at http:\/\/127\.0\.0\.1:1/);
    expect(`${result.stdout}${result.stderr}`).not.toContain('s3cret-pw');
  });

  it('should exit 2 on bad usage, before reading anything', async () => {
    const result = await runCleanupCli(['--check', '--dry-run'], env('/unused'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--check reads the whole store and changes nothing');
  });
});
