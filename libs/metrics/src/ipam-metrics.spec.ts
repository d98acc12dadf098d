import { describe, expect, it } from 'vitest';

import { IpamMetrics } from './ipam-metrics.js';

/** The samples of one metric in a scrape: `name{labels} value` lines, the value as text. */
function samples(text: string, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] === name) {
      out[match[2] ?? ''] = match[3] ?? '';
    }
  }
  return out;
}

describe('IpamMetrics', () => {
  it('should count calls and transactions under their labels, and time the calls', async () => {
    const m = new IpamMetrics();
    m.request('IpamDriver.RequestAddress', 'ok', 0.002);
    m.request('IpamDriver.RequestAddress', 'ok', 0.004);
    m.request('IpamDriver.RequestPool', 'rejected', 0.1);
    m.txn('reserve_address', 'committed');
    m.txn('reserve_address', 'retried');
    m.txn('create_pool', 'compare_failed');
    m.batch(5);
    const { body, contentType } = await m.scrape();
    expect(contentType).toMatch(/^text\/plain/);
    expect(samples(body, 'kontena_ipam_requests_total')).toEqual({
      '{method="IpamDriver.RequestAddress",outcome="ok"}': '2',
      '{method="IpamDriver.RequestPool",outcome="rejected"}': '1',
    });
    expect(samples(body, 'kontena_ipam_request_duration_seconds_count')).toEqual({
      '{method="IpamDriver.RequestAddress"}': '2',
      '{method="IpamDriver.RequestPool"}': '1',
    });
    expect(samples(body, 'kontena_ipam_request_duration_seconds_sum')).toEqual({
      '{method="IpamDriver.RequestAddress"}': '0.006',
      '{method="IpamDriver.RequestPool"}': '0.1',
    });
    expect(samples(body, 'kontena_ipam_etcd_txn_total')).toEqual({
      '{op="reserve_address",result="committed"}': '1',
      '{op="reserve_address",result="retried"}': '1',
      '{op="create_pool",result="compare_failed"}': '1',
    });
    expect(samples(body, 'kontena_ipam_batch_size_sum')).toEqual({ '': '5' });
    expect(samples(body, 'kontena_ipam_batch_size_bucket')['{le="4"}']).toBe('0');
    expect(samples(body, 'kontena_ipam_batch_size_bucket')['{le="8"}']).toBe('1');
  });

  it('should record nothing while recording is off', async () => {
    const m = new IpamMetrics();
    m.recording = false;
    m.request('IpamDriver.RequestAddress', 'ok', 0.002);
    m.txn('reserve_address', 'committed');
    m.batch(5);
    const { body } = await m.scrape();
    expect(samples(body, 'kontena_ipam_requests_total')).toEqual({});
    expect(samples(body, 'kontena_ipam_etcd_txn_total')).toEqual({});
    expect(samples(body, 'kontena_ipam_batch_size_count')).toEqual({ '': '0' });
  });

  it('should compute etcd_up, the pools and the build on each scrape', async () => {
    const m = new IpamMetrics();
    m.buildInfo('1.2.3');
    let up = false;
    let pools = [
      { pool: 'blue', family: 'ipv4' as const, size: 254n, allocated: 7n },
      { pool: 'v6', family: 'ipv6' as const, size: (1n << 64n) - 1n, allocated: 2n },
    ];
    m.sources = { etcdUp: () => up, pools: () => Promise.resolve(pools) };
    let { body } = await m.scrape();
    expect(samples(body, 'kontena_ipam_etcd_up')).toEqual({ '': '0' });
    expect(samples(body, 'kontena_ipam_build_info')).toEqual({ '{version="1.2.3"}': '1' });
    expect(samples(body, 'kontena_ipam_pool_size')).toEqual({
      '{pool="blue",family="ipv4"}': '254',
      '{pool="v6",family="ipv6"}': '18446744073709552000',
    });
    expect(samples(body, 'kontena_ipam_pool_allocated')).toEqual({
      '{pool="blue",family="ipv4"}': '7',
      '{pool="v6",family="ipv6"}': '2',
    });
    up = true;
    pools = [];
    ({ body } = await m.scrape());
    expect(samples(body, 'kontena_ipam_etcd_up')).toEqual({ '': '1' });
    expect(samples(body, 'kontena_ipam_pool_size')).toEqual({});
  });

  it('should scrape with empty pool gauges when the source fails', async () => {
    const m = new IpamMetrics();
    m.sources = { pools: () => Promise.reject(new Error('etcd down')) };
    const { body } = await m.scrape();
    expect(samples(body, 'kontena_ipam_pool_allocated')).toEqual({});
  });

  it('should show each supernet with its subnets and the free ones, and none when the source fails', async () => {
    const m = new IpamMetrics();
    let fail = false;
    m.sources = {
      supernets: () =>
        fail
          ? Promise.reject(new Error('etcd down'))
          : Promise.resolve([
              { supernet: '10.80.0.0/12', family: 'ipv4' as const, subnets: 4096n, free: 4090n },
              { supernet: '172.30.0.0/16', family: 'ipv4' as const, subnets: 1024n, free: 1024n },
              { supernet: 'fd00:1::/48', family: 'ipv6' as const, subnets: 65_536n, free: 0n },
            ]),
    };
    let { body } = await m.scrape();
    expect(samples(body, 'kontena_ipam_supernet_subnets')).toEqual({
      '{supernet="10.80.0.0/12",family="ipv4"}': '4096',
      '{supernet="172.30.0.0/16",family="ipv4"}': '1024',
      '{supernet="fd00:1::/48",family="ipv6"}': '65536',
    });
    expect(samples(body, 'kontena_ipam_supernet_free_subnets')).toEqual({
      '{supernet="10.80.0.0/12",family="ipv4"}': '4090',
      '{supernet="172.30.0.0/16",family="ipv4"}': '1024',
      '{supernet="fd00:1::/48",family="ipv6"}': '0',
    });
    fail = true;
    ({ body } = await m.scrape());
    expect(samples(body, 'kontena_ipam_supernet_free_subnets')).toEqual({});
  });
});
