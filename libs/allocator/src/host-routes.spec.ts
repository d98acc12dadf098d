import { describe, expect, it } from 'vitest';
import { parseProcNetRoute } from './host-routes.js';

const header =
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';

describe('parseProcNetRoute', () => {
  it.each([
    { name: 'empty file', lines: [], routes: [] },
    {
      name: 'default route is never on-link',
      lines: ['eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0'],
      routes: [],
    },
    {
      name: 'on-link /24',
      lines: ['eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0'],
      routes: ['192.168.0.0/24'],
    },
    {
      name: 'docker0 /16',
      lines: ['docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0'],
      routes: ['172.17.0.0/16'],
    },
    {
      name: 'host route /32',
      lines: ['tun0\t0100000A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0'],
      routes: ['10.0.0.1/32'],
    },
    {
      name: 'route via a gateway is skipped',
      lines: ['eth0\t0000000A\t0100A8C0\t0003\t0\t0\t0\t000000FF\t0\t0\t0'],
      routes: [],
    },
    {
      name: 'down route is skipped',
      lines: ['eth0\t0000000A\t00000000\t0000\t0\t0\t0\t000000FF\t0\t0\t0'],
      routes: [],
    },
    {
      name: 'garbage lines are skipped',
      lines: ['nonsense', 'eth0\tZZZZ\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0'],
      routes: [],
    },
    {
      name: 'non-contiguous mask is skipped',
      lines: ['eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0'],
      routes: [],
    },
  ])('should read $name', ({ lines, routes }) => {
    expect(parseProcNetRoute([header, ...lines].join('\n'))).toEqual(routes);
  });
});
