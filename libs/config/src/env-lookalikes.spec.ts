import { describe, expect, it } from 'vitest';

import { editDistance, lookalikeOf } from './env-lookalikes.js';

describe('editDistance', () => {
  it.each([
    { a: '', b: '', max: 2, d: 0 },
    { a: 'abc', b: 'abc', max: 2, d: 0 },
    { a: 'ETCD_ENDPOINTS', b: 'ETCD_ENDPOINT', max: 2, d: 1 },
    { a: 'ETCD_ENDPIONT', b: 'ETCD_ENDPOINT', max: 2, d: 2 },
    { a: 'kitten', b: 'sitting', max: 5, d: 3 },
    { a: 'a', b: 'abcdef', max: 2, d: 3 }, // cut off: max + 1
  ])('$a to $b is $d (max $max), both ways', ({ a, b, max, d }) => {
    expect(editDistance(a, b, max)).toBe(d);
    expect(editDistance(b, a, max)).toBe(d);
  });
});

describe('lookalikeOf', () => {
  const known = ['NODE_ID', 'ETCD_ENDPOINT', 'KONTENA_IPAM_SUBNET_LENGTH', 'LOG_LEVEL'] as const;
  it.each([
    { name: 'NODE_ID', meant: undefined },
    { name: 'NODE_IP', meant: undefined },
    { name: 'node_id', meant: 'NODE_ID' },
    { name: 'NODE-ID', meant: 'NODE_ID' },
    { name: 'LOGLEVEL', meant: 'LOG_LEVEL' },
    { name: 'ETCD_ENDPOINTS', meant: 'ETCD_ENDPOINT' },
    { name: 'etcd-endpoints', meant: 'ETCD_ENDPOINT' },
    { name: 'KONTENA_IPAM_SUBNETLENGTH', meant: 'KONTENA_IPAM_SUBNET_LENGTH' },
    { name: 'KONTENA_IPAM_SUBNET_LEN', meant: undefined },
    { name: 'ETCDCTL_ENDPOINTS', meant: undefined },
  ])('$name looks like $meant', ({ name, meant }) => {
    expect(lookalikeOf(name, known)).toBe(meant);
  });
});
