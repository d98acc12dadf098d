import { describe, expect, it } from 'vitest';

import { AddressInUse, PoolExhausted, SubnetConflict } from './errors.js';

// The messages an operator reads in `docker` output (docs/troubleshooting.md): each names who
// holds what and says what to do.
describe('IpamError messages', () => {
  it.each([
    {
      name: 'an address without its holder',
      error: new AddressInUse('10.81.0.10', 'kontena'),
      message: 'address 10.81.0.10 is already allocated in pool kontena',
    },
    {
      name: 'an address held for a container before Engine 29',
      error: new AddressInUse('10.81.0.10', 'kontena', { node: 'n1', type: 'endpoint' }),
      message:
        'address 10.81.0.10 is already allocated in pool kontena, held by node n1 for a container (or an --aux-address)',
    },
    {
      name: 'an address held for a named container',
      error: new AddressInUse('10.81.0.10', 'kontena', {
        node: 'n1',
        type: 'endpoint',
        name: 'web',
      }),
      message:
        'address 10.81.0.10 is already allocated in pool kontena, held by node n1 for container web',
    },
    {
      name: 'a gateway',
      error: new AddressInUse('10.81.0.1', 'kontena', { node: 'n2', type: 'gateway' }),
      message:
        'address 10.81.0.1 is already allocated in pool kontena, held by node n2 as a network gateway',
    },
    {
      name: 'an aux address',
      error: new AddressInUse('10.81.0.9', 'kontena', { node: 'n2', type: 'aux' }),
      message:
        'address 10.81.0.9 is already allocated in pool kontena, held by node n2 as an --aux-address',
    },
    {
      name: 'a subnet conflict with the other pool',
      error: new SubnetConflict('10.81.0.0/16', '10.81.4.0/24', 'blue'),
      message:
        '10.81.0.0/16 conflict: Conflict with network 10.81.4.0/24 of pool blue; choose another --subnet',
    },
    {
      name: 'an exhausted pool',
      error: new PoolExhausted('kontena'),
      message:
        'no addresses available in pool kontena: `kontena-ipam-ctl show kontena` lists who holds ' +
        'them; `kontena-ipam-cleanup` on each host frees those its Docker no longer uses',
    },
  ])('should say $name', ({ error, message }) => {
    expect(error.message).toBe(message);
  });
});
