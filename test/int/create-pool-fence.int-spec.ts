import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';

import { uniquePrefix } from '../support/prefix.js';
import { RawEtcd, startNode, type IpamNode } from './harness.js';

const endpoints = inject('etcdEndpoints');

/**
 * createPool's compare: "no subnet key that could overlap was written after the read". It
 * names only the keys that could hold an overlapping subnet (KeyLayout.subnetOverlapFence), so
 * a write elsewhere in `subnets/` no longer fails it; an overlapping one still must, whatever
 * the lengths.
 */
describe('AllocationStore.createPool subnet fence on a real etcd', () => {
  let prefix: string;
  let node: IpamNode;
  let raw: RawEtcd;

  beforeEach(async () => {
    prefix = uniquePrefix('fence');
    raw = new RawEtcd(endpoints, prefix);
    node = await startNode({ nodeId: 'node-a', endpoints, prefix });
  });

  afterEach(async () => {
    await node.close();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  /**
   * createPool of `subnet` with a read taken before `written` appeared in `subnets/` (or, with
   * `readAfter`, a read that is current: it saw `written` already).
   */
  const createAfter = async (subnet: string, written: string, readAfter = false) => {
    let read = await raw.revision();
    const [network] = written.split('/');
    await raw.client
      .put(`${prefix}/subnets/${network}`)
      .value(JSON.stringify({ address: written, pool: 'other', req: 'other' }));
    if (readAfter) {
      read = await raw.revision();
    }
    const before = await raw.dump();
    const [net, len] = subnet.split('/');
    const gateway = net!.replace(/\d+$/, (d) => String(Number(d) + 1));
    const result = await node.store.createPool(
      {
        id: 'mine',
        record: { subnet, gateway: `${gateway}/${len}` },
        network: net!,
        gatewayIp: gateway,
        node: 'node-a',
      },
      read,
      'nonce-1',
      node.store.deadline(),
    );
    return { result, before, after: await raw.dump() };
  };

  it.each([
    { subnet: '10.80.100.0/24', written: '10.80.100.128/25', why: 'inside it' },
    { subnet: '10.80.100.0/24', written: '10.80.100.0/26', why: 'inside it, same network' },
    { subnet: '10.80.100.0/24', written: '10.80.100.0/16', why: 'same network, longer' },
    { subnet: '10.80.100.0/24', written: '10.80.96.0/20', why: 'around it' },
    { subnet: '10.80.100.0/24', written: '10.0.0.0/8', why: 'around it, far up' },
    { subnet: '10.80.16.0/20', written: '10.80.31.0/24', why: 'inside a /20' },
    { subnet: '10.80.16.0/20', written: '10.80.0.0/19', why: 'around a /20' },
    { subnet: '10.80.1.7/32', written: '10.80.1.7/32', why: 'the same /32' },
    // The fence rounds down to whole octets: this costs a retry (never an overlap).
    { subnet: '10.80.16.0/20', written: '10.80.32.0/20', why: 'a sibling in its /16' },
  ])('should refuse $subnet when $written ($why) was written after the read', async (row) => {
    const { result, before, after } = await createAfter(row.subnet, row.written);
    expect(result.kind).toBe('subnets-changed');
    expect(after).toEqual(before);
  });

  it.each([
    { subnet: '10.80.100.0/24', written: '10.80.101.0/24', why: 'the next /24' },
    { subnet: '10.80.100.0/24', written: '10.81.0.0/16', why: 'another /16' },
    { subnet: '10.80.16.0/20', written: '10.81.32.0/20', why: 'a /20 of another /16' },
  ])('should create $subnet though $written ($why) was written after the read', async (row) => {
    const { result, after } = await createAfter(row.subnet, row.written);
    expect(result.kind).toBe('created');
    expect(Object.keys(after)).toEqual(
      expect.arrayContaining([`pools/mine`, `subnets/${row.subnet.split('/')[0]}`]),
    );
  });

  // A view that missed a subnet looks current to the fence (the key is older than the read):
  // the pool's own subnet key must not exist, whatever the read revision.
  it.each([
    { subnet: '10.80.100.0/24', written: '10.80.100.0/24', why: 'the same subnet' },
    { subnet: '10.80.100.0/24', written: '10.80.100.0/26', why: 'the same network, longer' },
    { subnet: '10.80.100.0/26', written: '10.80.100.0/24', why: 'the same network, shorter' },
  ])(
    'should refuse to overwrite subnets/ of $written ($why) with a current read revision',
    async (row) => {
      const { result, before, after } = await createAfter(row.subnet, row.written, true);
      expect(result.kind).toBe('subnets-changed');
      expect(after).toEqual(before);
    },
  );
});
