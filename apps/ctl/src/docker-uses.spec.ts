import { describe, expect, it } from 'vitest';

import type { DockerNetwork, DockerNetworks } from '../../cleanup/src/docker/docker-networks.js';
import { dockerUses } from './docker-uses.js';

const NETWORK: DockerNetwork = {
  id: 'n1',
  name: 'dual',
  ipamDriver: 'kontena-ipam',
  poolOption: 'dual',
  configs: [
    { subnet: '10.80.0.0/24', gateway: '10.80.0.1', auxAddresses: ['10.80.0.9'] },
    { subnet: 'fd00:1::/64', gateway: 'fd00:1::1', auxAddresses: ['fd00:1:0:0::9'] },
  ],
  endpoints: [{ name: 'web', ipv4: '10.80.0.2', ipv6: 'fd00:1::2' }],
};

/** A Docker of one network: dockerUses is pure logic over what Docker lists. */
const docker: DockerNetworks = {
  where: 'test',
  ping: () => Promise.resolve(),
  list: () => Promise.resolve([NETWORK]),
  plugins: () => Promise.resolve([]),
};

describe('dockerUses', () => {
  it.each([
    ['10.80.0.2', [{ network: 'dual', what: 'container', container: 'web' }]],
    ['fd00:1::2', [{ network: 'dual', what: 'container', container: 'web' }]],
    ['fd00:1:0::0:2', [{ network: 'dual', what: 'container', container: 'web' }]],
    ['10.80.0.1', [{ network: 'dual', what: 'gateway' }]],
    ['FD00:1::1', [{ network: 'dual', what: 'gateway' }]],
    ['fd00:1::9', [{ network: 'dual', what: 'aux' }]],
    ['10.80.0.9', [{ network: 'dual', what: 'aux' }]],
    ['10.80.0.3', []],
    ['fd00:1::3', []],
  ])('should find the uses of %s in IPv4 and IPv6, in any spelling', async (ip, uses) => {
    expect(await dockerUses(docker, ip)).toEqual(uses);
  });
});
