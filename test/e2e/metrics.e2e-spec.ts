import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { startPluginOnPrefix, type PluginOnPrefix } from '../support/docker-fixture.js';
import { pluginCall, type PluginProcess } from './plugin-process.js';

const endpoints = inject('etcdEndpoints');
const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** Every sample of a scrape, `name{labels}` to its value. */
function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) {
      out.set(match[1] ?? '', Number(match[2]));
    }
  }
  return out;
}

/**
 * GET /metrics of the built plugin after a known sequence of Docker calls over its socket, on a
 * real etcd: every count, the pool and supernet gauges and the build are what the calls imply.
 */
describe('the plugin on /metrics', () => {
  let fixture: PluginOnPrefix;
  let plugin: PluginProcess;

  beforeAll(async () => {
    fixture = await startPluginOnPrefix({ endpoints, nodeId: 'metrics-1', label: 'metrics' });
    ({ plugin } = fixture);
  });

  afterAll(() => fixture?.stop());

  const call = async (method: string, body: unknown, status: number) => {
    const res = await pluginCall(plugin.socketPath, method, body, { timeoutMs: 30_000 });
    expect({ method, status: res.status, text: res.text }).toMatchObject({ method, status });
    return res;
  };

  it('should count the calls, the transactions and the batches, and show the pools', async () => {
    await call(
      'IpamDriver.RequestPool',
      { AddressSpace: '', Pool: '', SubPool: '', Options: { network: 'mx' }, V6: false },
      200,
    );
    await call(
      'IpamDriver.RequestPool',
      { AddressSpace: '', Pool: 'nonsense', SubPool: '', Options: { network: 'bad' }, V6: false },
      400,
    );
    const addresses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(
        'IpamDriver.RequestAddress',
        { PoolID: 'mx', Address: '', Options: null },
        200,
      );
      addresses.push(String(res.body?.Address).split('/')[0] ?? '');
    }
    await call(
      'IpamDriver.RequestAddress',
      { PoolID: 'mx', Address: '192.0.2.1', Options: null },
      400,
    );
    await call('IpamDriver.ReleaseAddress', { PoolID: 'mx', Address: addresses[0] }, 200);

    const res = await fetch(`${plugin.healthUrl}/metrics`);
    expect(res.status).toBe(200);
    const m = parseScrape(await res.text());
    const get = (key: string): number | undefined => m.get(key);

    expect({
      poolOk: get('kontena_ipam_requests_total{method="IpamDriver.RequestPool",outcome="ok"}'),
      poolRejected: get(
        'kontena_ipam_requests_total{method="IpamDriver.RequestPool",outcome="rejected"}',
      ),
      addressOk: get(
        'kontena_ipam_requests_total{method="IpamDriver.RequestAddress",outcome="ok"}',
      ),
      addressRejected: get(
        'kontena_ipam_requests_total{method="IpamDriver.RequestAddress",outcome="rejected"}',
      ),
      releaseOk: get(
        'kontena_ipam_requests_total{method="IpamDriver.ReleaseAddress",outcome="ok"}',
      ),
      addressTimed: get(
        'kontena_ipam_request_duration_seconds_count{method="IpamDriver.RequestAddress"}',
      ),
      created: get('kontena_ipam_etcd_txn_total{op="create_pool",result="committed"}'),
      reserved: get('kontena_ipam_etcd_txn_total{op="reserve_address",result="committed"}'),
      deleted: get('kontena_ipam_etcd_txn_total{op="delete_address",result="committed"}'),
      batches: get('kontena_ipam_batch_size_count'),
      batched: get('kontena_ipam_batch_size_sum'),
      etcdUp: get('kontena_ipam_etcd_up'),
      size: get('kontena_ipam_pool_size{pool="mx",family="ipv4"}'),
      // the gateway and three addresses, one released
      allocated: get('kontena_ipam_pool_allocated{pool="mx",family="ipv4"}'),
      build: get(`kontena_ipam_build_info{version="${VERSION}"}`),
      // the default supernet's /24s, one carved (mx); no IPv6 supernet read yet
      supernetSubnets: get('kontena_ipam_supernet_subnets{supernet="10.80.0.0/12",family="ipv4"}'),
      supernetFree: get(
        'kontena_ipam_supernet_free_subnets{supernet="10.80.0.0/12",family="ipv4"}',
      ),
      supernets: [...m.keys()].filter((k) => k.startsWith('kontena_ipam_supernet_subnets{')),
    }).toEqual({
      poolOk: 1,
      poolRejected: 1,
      addressOk: 3,
      addressRejected: 1,
      releaseOk: 1,
      addressTimed: 4,
      created: 1,
      reserved: 3,
      deleted: 1,
      batches: 3,
      batched: 3,
      etcdUp: 1,
      size: 254,
      allocated: 3,
      build: 1,
      supernetSubnets: 4096,
      supernetFree: 4095,
      supernets: ['kontena_ipam_supernet_subnets{supernet="10.80.0.0/12",family="ipv4"}'],
    });
    expect(get('process_resident_memory_bytes')).toBeGreaterThan(0);
    // The durations are real: the three allocations took some time, none more than a minute.
    const sum = get(
      'kontena_ipam_request_duration_seconds_sum{method="IpamDriver.RequestAddress"}',
    );
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(60);
  });
});
