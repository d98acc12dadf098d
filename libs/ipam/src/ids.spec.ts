import { describe, expect, it } from 'vitest';
import { isNetworkName, isPoolId, poolIdOf } from './ids.js';

describe('pool ids', () => {
  it.each([
    { name: 'a network name', id: 'blue', pool: true, network: true },
    { name: 'its IPv6 pool', id: 'blue:v6', pool: true, network: false },
    { name: 'a private pool', id: 'local-0b6f', pool: true, network: true },
    { name: 'a suffix alone', id: ':v6', pool: false, network: false },
    { name: 'another suffix', id: 'blue:v4', pool: false, network: false },
    { name: 'the suffix twice', id: 'blue:v6:v6', pool: false, network: false },
    { name: 'a slash', id: 'a/b:v6', pool: false, network: false },
  ])('$name: $id', ({ id, pool, network }) => {
    expect(isPoolId(id)).toBe(pool);
    expect(isNetworkName(id)).toBe(network);
  });

  it('should give each family of a network its own id', () => {
    expect(poolIdOf('blue', false)).toBe('blue');
    expect(poolIdOf('blue', true)).toBe('blue:v6');
  });
});
