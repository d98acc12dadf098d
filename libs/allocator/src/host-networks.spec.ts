import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Prefix } from '#app/net';
import {
  firstOverlap,
  hostReservations,
  parseProcNetRoute,
  parseResolvConf,
  ProcHostNetworks,
} from './host-networks.js';

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

describe('parseResolvConf', () => {
  it.each([
    { name: 'an empty file', text: '', servers: [] },
    { name: 'one nameserver', text: 'nameserver 10.0.0.2\n', servers: ['10.0.0.2'] },
    {
      name: 'several, in order, with search and options lines around',
      text: 'search example.com\nnameserver 10.0.0.2\noptions ndots:2\nnameserver 10.0.0.3\n',
      servers: ['10.0.0.2', '10.0.0.3'],
    },
    { name: 'leading blanks and tabs', text: '  \tnameserver\t10.0.0.2  ', servers: ['10.0.0.2'] },
    { name: 'a commented-out line', text: '# nameserver 10.0.0.2\n', servers: [] },
    {
      name: 'a comment after the address',
      text: 'nameserver 10.0.0.2 # the router\n',
      servers: ['10.0.0.2'],
    },
    { name: 'IPv6, its zone dropped', text: 'nameserver fe80::1%eth0\n', servers: ['fe80::1'] },
    { name: 'not an address', text: 'nameserver dns.example.com\n', servers: [] },
    { name: 'two addresses on one line', text: 'nameserver 10.0.0.2 10.0.0.3\n', servers: [] },
    { name: 'no address', text: 'nameserver\n', servers: [] },
    { name: 'another keyword', text: 'nameservers 10.0.0.2\n', servers: [] },
    { name: 'CRLF line ends', text: 'nameserver 10.0.0.2\r\n', servers: ['10.0.0.2'] },
  ])('should read $name', ({ text, servers }) => {
    expect(parseResolvConf(text)).toEqual(servers);
  });
});

describe('ProcHostNetworks.nameservers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'resolv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    { name: 'no resolv.conf', own: undefined, systemd: undefined, servers: [] },
    {
      name: 'its own nameservers',
      own: 'nameserver 10.0.0.2\n',
      systemd: undefined,
      servers: ['10.0.0.2'],
    },
    {
      name: "systemd-resolved's when its stub is the only one",
      own: 'nameserver 127.0.0.53\noptions edns0\n',
      systemd: 'nameserver 10.0.0.9\nnameserver 10.0.0.10\n',
      servers: ['10.0.0.9', '10.0.0.10'],
    },
    {
      name: 'its own when the stub is not alone',
      own: 'nameserver 127.0.0.53\nnameserver 10.0.0.2\n',
      systemd: 'nameserver 10.0.0.9\n',
      servers: ['127.0.0.53', '10.0.0.2'],
    },
  ])('should read $name', async ({ name, own, systemd, servers }) => {
    const host = new ProcHostNetworks();
    host.resolvConfPath = join(dir, `${name}.own`);
    host.systemdResolvConfPath = join(dir, `${name}.systemd`);
    if (own !== undefined) {
      writeFileSync(host.resolvConfPath, own);
    }
    if (systemd !== undefined) {
      writeFileSync(host.systemdResolvConfPath, systemd);
    }
    expect(await host.nameservers()).toEqual(servers);
  });
});

describe('firstOverlap of hostReservations', () => {
  const routes = ['10.80.0.0/24', '192.168.0.0/16', 'fd00::/64', 'nonsense'];
  const nameservers = ['10.90.0.53', 'fe80::1', 'bogus'];
  const reserved = hostReservations(routes, nameservers);

  it('should keep the IPv4 routes and nameservers, routes first', () => {
    expect(reserved.map((r) => [r.prefix.toString(), r.what])).toEqual([
      ['10.80.0.0/24', "this host's on-link route 10.80.0.0/24"],
      ['192.168.0.0/16', "this host's on-link route 192.168.0.0/16"],
      ['10.90.0.53/32', "the nameserver 10.90.0.53 in this host's resolv.conf"],
    ]);
  });

  it.each([
    { name: 'nothing reserved', subnet: '10.80.0.0/24', none: true, what: undefined },
    {
      name: 'the same subnet as a route',
      subnet: '10.80.0.0/24',
      none: false,
      what: "this host's on-link route 10.80.0.0/24",
    },
    {
      name: 'a subnet inside a route',
      subnet: '192.168.7.0/24',
      none: false,
      what: "this host's on-link route 192.168.0.0/16",
    },
    {
      name: 'a subnet around a route',
      subnet: '10.80.0.0/16',
      none: false,
      what: "this host's on-link route 10.80.0.0/24",
    },
    { name: 'the next subnet after a route', subnet: '10.80.1.0/24', none: false, what: undefined },
    {
      name: 'a subnet holding a nameserver',
      subnet: '10.90.0.0/24',
      none: false,
      what: "the nameserver 10.90.0.53 in this host's resolv.conf",
    },
    { name: 'a subnet beside a nameserver', subnet: '10.90.1.0/24', none: false, what: undefined },
  ])('$name: $what', ({ subnet, none, what }) => {
    expect(firstOverlap(Prefix.parse(subnet), none ? [] : reserved)?.what).toBe(what);
  });
});
