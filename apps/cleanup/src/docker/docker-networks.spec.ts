import type { NetworkInspectInfo } from 'dockerode';
import { describe, expect, it } from 'vitest';

import { toDockerNetwork } from './docker-networks.js';

function inspect(partial: Partial<NetworkInspectInfo>): NetworkInspectInfo {
  return {
    Name: 'n',
    Id: 'abc',
    Created: '',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigOnly: false,
    ...partial,
  };
}

describe('toDockerNetwork', () => {
  it('reads the pool option, configs and endpoints as docker network inspect shows them', () => {
    expect(
      toDockerNetwork(
        inspect({
          Name: 'gw',
          IPAM: {
            Driver: 'kontena-ipam',
            Options: { network: 'gw' },
            Config: [
              {
                Subnet: '10.82.0.0/24',
                Gateway: '10.82.0.254',
                AuxiliaryAddresses: { host1: '10.82.0.10' },
              },
            ],
          },
          Containers: {
            c0ffee: {
              Name: 'c1',
              EndpointID: 'e',
              MacAddress: '',
              IPv4Address: '10.82.0.2/24',
              IPv6Address: '',
            },
            ep: { Name: '', EndpointID: 'e2', MacAddress: '', IPv4Address: '', IPv6Address: '' },
          },
        }),
      ),
    ).toEqual({
      id: 'abc',
      name: 'gw',
      ipamDriver: 'kontena-ipam',
      poolOption: 'gw',
      configs: [{ subnet: '10.82.0.0/24', gateway: '10.82.0.254', auxAddresses: ['10.82.0.10'] }],
      endpoints: [{ name: 'c1', ipv4: '10.82.0.2' }, { name: 'ep' }],
    });
  });

  it('copes with a network without IPAM, options or containers', () => {
    expect(toDockerNetwork(inspect({ Name: 'none' }))).toEqual({
      id: 'abc',
      name: 'none',
      ipamDriver: '',
      configs: [],
      endpoints: [],
    });
  });
});
