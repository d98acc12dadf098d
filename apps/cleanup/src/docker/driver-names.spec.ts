import { describe, expect, it } from 'vitest';

import type { DockerNetwork } from './docker-networks.js';
import { driverNames, type DockerPlugin } from './driver-names.js';

const plugin = (name: string, partial: Partial<DockerPlugin> = {}): DockerPlugin => ({
  name,
  enabled: true,
  types: ['docker.ipamdriver/1.0'],
  socket: 'kontena-ipam.sock',
  ...partial,
});
const network = (ipamDriver: string): DockerNetwork => ({
  id: ipamDriver,
  name: ipamDriver,
  ipamDriver,
  configs: [],
  endpoints: [],
});

// Issue #19: the cleanup finds the managed plugin's name (kontena-ipam:latest) itself.
describe('driverNames', () => {
  it.each([
    { name: 'nothing but the socket', plugins: [], networks: [], want: ['kontena-ipam'] },
    {
      name: 'a managed plugin on our socket',
      plugins: [plugin('kontena-ipam:latest')],
      networks: [],
      want: ['kontena-ipam', 'kontena-ipam:latest'],
    },
    {
      name: 'a disabled managed plugin (its networks stay)',
      plugins: [plugin('kontena-ipam:latest', { enabled: false })],
      networks: [],
      want: ['kontena-ipam', 'kontena-ipam:latest'],
    },
    {
      name: 'a managed plugin under a registry name',
      plugins: [plugin('registry.example/ops/kontena-ipam:0.3.0')],
      networks: [],
      want: ['kontena-ipam', 'registry.example/ops/kontena-ipam:0.3.0'],
    },
    {
      name: 'a plugin of another socket or kind',
      plugins: [
        plugin('weave:latest', { socket: 'weave.sock' }),
        plugin('vol:latest', { types: ['docker.volumedriver/1.0'] }),
      ],
      networks: [],
      want: ['kontena-ipam'],
    },
    {
      name: "networks' drivers of our name with a tag or registry",
      plugins: [],
      networks: [network('kontena-ipam:latest'), network('reg/kontena-ipam:1'), network('default')],
      want: ['kontena-ipam', 'kontena-ipam:latest', 'reg/kontena-ipam:1'],
    },
    {
      name: 'a driver that only starts like ours',
      plugins: [],
      networks: [network('kontena-ipam-old'), network('')],
      want: ['kontena-ipam'],
    },
  ])('should find $name', ({ plugins, networks, want }) => {
    expect(driverNames('kontena-ipam', plugins, networks)).toEqual(want);
  });
});
