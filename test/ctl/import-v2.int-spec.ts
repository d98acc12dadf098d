import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AddressInUse, PoolExhausted } from '#app/ipam';

import type { Env } from '../../apps/ctl/src/command.js';
import { importV2Command } from '../../apps/ctl/src/import-v2/import-v2.command.js';
import { RawEtcd, startNode, type IpamNode } from '../int/harness.js';
import { etcdV2Put, startEtcd, type EtcdCluster } from '../support/etcd.js';
import { uniquePrefix } from '../support/prefix.js';
import { containerOptions } from '../support/docker-calls.js';
import { capture, type Captured } from './capture.js';

/**
 * `kontena-ipam-ctl import-v2` (issue #19) against a real etcd 3.4 serving the v2 API, with a
 * kontena-ipam 0.2 keyspace written through that API in the original's layout: a static pool
 * with an ip-range, a dynamic pool used by two nodes, their gateways, addresses of two nodes, and
 * the debris 0.2's non-atomic writes could leave (an orphan subnet key, an overlapping pool).
 */

/** The 0.2 store, key by key, as its models wrote it (values JSON, IPs `a.b.c.d/len`). */
const V2_KEYS: [string, object][] = [
  // static pool "blue" with --ip-range, created on n1
  ['subnets/10.81.0.0', { address: '10.81.0.0/16' }],
  ['pools/blue', { subnet: '10.81.0.0/16', iprange: '10.81.128.0/17', gateway: '10.81.0.1/16' }],
  ['addresses/blue/10.81.0.1', { address: '10.81.0.1/16', node: 'n1' }],
  ['addresses/blue/10.81.128.10', { address: '10.81.128.10/16', node: 'n1' }],
  ['pool-nodes/blue/n1', {}],
  // dynamic pool "dyn" (a /29 of the supernet) used by n1 and n2
  ['subnets/10.80.0.0', { address: '10.80.0.0/29' }],
  ['pools/dyn', { subnet: '10.80.0.0/29', gateway: '10.80.0.1/29' }],
  ['addresses/dyn/10.80.0.1', { address: '10.80.0.1/29', node: 'n2' }],
  ['addresses/dyn/10.80.0.2', { address: '10.80.0.2/29', node: 'n1' }],
  ['addresses/dyn/10.80.0.3', { address: '10.80.0.3/29', node: 'n2' }],
  ['addresses/dyn/10.80.0.4', { address: '10.80.0.4/29', node: 'n2' }],
  ['pool-nodes/dyn/n1', {}],
  ['pool-nodes/dyn/n2', {}],
  // debris: an orphan subnet key, and a pool overlapping blue created after it
  ['subnets/10.99.0.0', { address: '10.99.0.0/24' }],
  ['subnets/10.81.7.0', { address: '10.81.7.0/24' }],
  ['pools/red', { subnet: '10.81.7.0/24', gateway: '10.81.7.1/24' }],
  ['addresses/red/10.81.7.1', { address: '10.81.7.1/24', node: 'n2' }],
  ['pool-nodes/red/n2', {}],
];

const runImportV2 = (args: string[], io: Captured, env: Env): Promise<number> =>
  importV2Command.run(args, { ...io.io, env });

describe('kontena-ipam-ctl import-v2', () => {
  let etcd: EtcdCluster;
  let endpoint: string;
  let prefix: string;
  let raw: RawEtcd;
  let env: Record<string, string>;
  const nodes: IpamNode[] = [];

  beforeAll(async () => {
    etcd = await startEtcd({ name: 'import-v2', enableV2: true });
    endpoint = etcd.endpoints[0]!;
    for (const [key, value] of V2_KEYS) {
      await etcdV2Put(endpoint, `/kontena/ipam/${key}`, JSON.stringify(value));
    }
  });

  afterAll(async () => {
    await etcd.stop();
  });

  beforeEach(() => {
    prefix = uniquePrefix('import-v2');
    raw = new RawEtcd([endpoint], prefix);
    env = { ETCD_ENDPOINT: endpoint, ETCD_PREFIX: prefix, ETCD_WAIT_TIMEOUT: '10', NODE_ID: 'ops' };
  });

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const node = async (nodeId: string): Promise<IpamNode> => {
    const n = await startNode({
      nodeId,
      endpoints: [endpoint],
      prefix,
      env: { KONTENA_IPAM_SUBNET_LENGTH: '29' },
    });
    nodes.push(n);
    return n;
  };

  it('should print the plan on --dry-run and write nothing', async () => {
    const io = capture();
    const code = await runImportV2(['--from', endpoint, '--dry-run'], io, env);
    expect(io.errors).toEqual([]);
    expect(code).toBe(1); // the debris is skipped
    expect(io.lines).toContain(
      'pool blue 10.81.0.0/16: would be created; memberships 1 would be new, 0 present; ' +
        'addresses 1 would be new, 0 present',
    );
    expect(io.lines).toContain(
      'pool dyn 10.80.0.0/29: would be created; memberships 2 would be new, 0 present; ' +
        'addresses 3 would be new, 0 present',
    );
    expect(await raw.keys()).toEqual([]);
  });

  it('should import pools the plugin then serves, skip the debris, and pass the check', async () => {
    const io = capture();
    const code = await runImportV2(['--from', endpoint], io, env);
    expect(io.errors).toEqual([]);
    expect(code).toBe(1);
    const text = io.lines.join('\n');
    expect(text).toMatch(
      /^skipped pools\/red: pool red: subnet 10\.81\.7\.0\/24 overlaps subnet 10\.81\.0\.0\/16 of pool blue/m,
    );
    expect(text).toMatch(
      /^skipped subnets\/10\.99\.0\.0: subnet 10\.99\.0\.0\/24: no imported pool/m,
    );
    expect(text).toMatch(
      /^skipped addresses\/red\/10\.81\.7\.1: address 10\.81\.7\.1: pool red is not imported/m,
    );
    expect(text).toMatch(
      /2 pool\(s\) created, 0 present already, 0 conflict\(s\), 5 0\.2 key\(s\) skipped/,
    );
    expect(text).toMatch(
      /^check of etcd prefix .*: 2 pools, 2 subnets, 6 addresses, 3 memberships; 0 violations.*\(consistent\)$/m,
    );
    expect(text).toMatch(/NODE_ID it had under 0\.2.*: n1, n2$/m);

    const state = await raw.state();
    expect(state['pools/blue']).toMatchObject({
      subnet: '10.81.0.0/16',
      iprange: '10.81.128.0/17',
      gateway: '10.81.0.1/16',
    });
    expect(state['subnets/10.81.0.0']).toMatchObject({ address: '10.81.0.0/16', pool: 'blue' });
    expect(state['addresses/dyn/10.80.0.1']).toMatchObject({ node: 'n2', type: 'gateway' });
    expect(state['addresses/dyn/10.80.0.3']).toMatchObject({
      address: '10.80.0.3/29',
      node: 'n2',
      type: 'endpoint',
    });
    expect(state['pool-nodes/dyn/n1']).toMatchObject({ refs: 1 });
    expect(state['pool-nodes/dyn/n2']).toMatchObject({ refs: 1 });
    expect(state['pools/red']).toBeUndefined();

    // The plugin serves them: same subnets and gateways, taken addresses stay taken.
    const n1 = await node('n1');
    const blue = await n1.pools.requestPool({ options: { network: 'blue' }, v6: false });
    expect(blue.pool).toBe('10.81.0.0/16');
    expect(blue.data).toEqual({ 'com.docker.network.gateway': '10.81.0.1/16' });
    await expect(
      n1.addresses.requestAddress({
        poolId: 'blue',
        address: '10.81.128.10',
        options: containerOptions(),
      }),
    ).rejects.toBeInstanceOf(AddressInUse);
    const dyn = await n1.pools.requestPool({ options: { network: 'dyn' }, v6: false });
    expect(dyn.pool).toBe('10.80.0.0/29');
    const got = [
      (await n1.addresses.requestAddress({ poolId: 'dyn', options: {} })).address,
      (await n1.addresses.requestAddress({ poolId: 'dyn', options: {} })).address,
    ].sort();
    expect(got).toEqual(['10.80.0.5/29', '10.80.0.6/29']);
    await expect(
      n1.addresses.requestAddress({ poolId: 'dyn', options: {} }),
    ).rejects.toBeInstanceOf(PoolExhausted);
    // A new dynamic pool does not take a subnet the import reserved.
    const fresh = await n1.pools.requestPool({ options: { network: 'green' }, v6: false });
    expect(fresh.pool).toBe('10.80.0.8/29');
  });

  it('should change nothing on a second run', async () => {
    expect(await runImportV2(['--from', endpoint], capture(), env)).toBe(1);
    const before = await raw.client.getAll().prefix(`${prefix}/`).strings();
    const io = capture();
    expect(await runImportV2(['--from', endpoint], io, env)).toBe(1);
    expect(io.lines).toContain(
      'pool dyn 10.80.0.0/29: present already; memberships 0 new, 2 present; addresses 0 new, 3 present',
    );
    expect(await raw.client.getAll().prefix(`${prefix}/`).strings()).toEqual(before);
  });

  it('should report a v3 record that differs and keep it', async () => {
    const other = await node('n9');
    await other.pools.requestPool({
      options: { network: 'blue' },
      pool: '10.70.0.0/24',
      v6: false,
    });
    await other.pools.requestPool({ options: { network: 'dyn' }, pool: '10.80.0.0/29', v6: false });
    await other.addresses.requestAddress({
      poolId: 'dyn',
      address: '10.80.0.3',
      options: containerOptions(),
    });
    const io = capture();
    expect(await runImportV2(['--from', endpoint], io, env)).toBe(1);
    expect(io.lines).toContain('pool blue 10.81.0.0/16: CONFLICT');
    expect(io.lines).toContain(
      'conflict pool blue: v3 holds it with subnet 10.70.0.0/24, 0.2 with subnet 10.81.0.0/16 ' +
        'range 10.81.128.0/17; the v3 pool is kept and nothing of the 0.2 one is imported',
    );
    expect(io.lines).toContain(
      'conflict address 10.80.0.3 of pool dyn: v3 holds it for node n9 (endpoint), 0.2 for node n2; the v3 one is kept',
    );
    const state = await raw.state();
    expect(state['pools/blue']).toMatchObject({ subnet: '10.70.0.0/24' });
    expect(state['addresses/dyn/10.80.0.3']).toMatchObject({ node: 'n9' });
    expect(state['addresses/dyn/10.80.0.4']).toMatchObject({ node: 'n2' });
  });

  it('should say what to do when --from serves no v2 API', async () => {
    const plain = await startEtcd({ name: 'no-v2' });
    try {
      const io = capture();
      expect(await runImportV2(['--from', plain.endpoints[0]!], io, env)).toBe(1);
      expect(io.errors.join('\n')).toMatch(/does not serve the v2 API .*--enable-v2/);
      expect(await raw.keys()).toEqual([]);
    } finally {
      await plain.stop();
    }
  });

  it('should refuse a missing --from as a usage error', async () => {
    const io = capture();
    expect(await runImportV2([], io, env)).toBe(2);
    expect(io.errors[0]).toMatch(/--from URL is required/);
  });
});
