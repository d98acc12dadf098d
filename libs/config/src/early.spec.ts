import { describe, expect, it } from 'vitest';
import { DEFAULT_SOCKET_PATH, earlySocketPath } from './early.js';
import { loadConfig } from './load-config.js';

describe('earlySocketPath', () => {
  it.each([
    { name: 'unset', value: undefined, path: DEFAULT_SOCKET_PATH },
    { name: 'empty', value: '', path: DEFAULT_SOCKET_PATH },
    { name: 'absolute', value: '/run/x/ipam.sock', path: '/run/x/ipam.sock' },
    { name: 'relative', value: 'ipam.sock', path: undefined },
    { name: 'no .sock', value: '/run/x/ipam', path: undefined },
    { name: 'nothing before .sock', value: '/run/x/.sock', path: undefined },
    { name: 'too long', value: `/${'a'.repeat(110)}.sock`, path: undefined },
  ])('should give $name as $path', ({ value, path }) => {
    expect(earlySocketPath({ KONTENA_IPAM_SOCKET: value })).toBe(path);
  });

  it('should agree with the full configuration on valid values', () => {
    for (const value of [undefined, '/run/x/ipam.sock']) {
      expect(earlySocketPath({ KONTENA_IPAM_SOCKET: value })).toBe(
        loadConfig({ KONTENA_IPAM_SOCKET: value, NODE_ID: 'n' }).socketPath,
      );
    }
  });
});
