import { readFileSync } from 'node:fs';
import { Injectable } from '@nestjs/common';
import { Addr, Prefix } from '#app/net';

/**
 * What dockerd checks a pool against before it uses it for a local network created without
 * `--subnet` (moby/moby libnetwork/network.go, requestPoolHelper; netutils FindAvailableNetwork
 * and CheckRouteOverlaps): this host's on-link IPv4 routes (the default route aside; a route via
 * a gateway does not count) and the nameservers of its resolv.conf. A pool that overlaps one of
 * them is held while dockerd asks again. New dynamic subnets avoid them, and an existing shared
 * pool that overlaps one is refused in the local address space (PoolAllocator).
 */
export const HOST_NETWORKS = Symbol('HOST_NETWORKS');

export interface HostNetworks {
  /** On-link IPv4 routes as CIDR strings ("172.17.0.0/16"); the default route is never one. */
  onLinkRoutes(): Promise<string[]>;
  /** The nameservers of this host's resolv.conf as dockerd reads it ("10.0.0.2"). */
  nameservers(): Promise<string[]>;
}

/** A subnet dockerd keeps pools off, and how to name it in a sentence. */
export interface HostReservation {
  prefix: Prefix;
  /** "this host's on-link route 10.80.0.0/24", "the nameserver 10.0.0.2 in this host's resolv.conf" */
  what: string;
}

/** The on-link routes and IPv4 nameservers (each a /32) as reservations, routes first. */
export function hostReservations(
  routes: readonly string[],
  nameservers: readonly string[],
): HostReservation[] {
  const out: HostReservation[] = [];
  for (const route of routes) {
    const prefix = Prefix.tryParse(route);
    if (prefix?.family === 4) {
      out.push({ prefix, what: `this host's on-link route ${prefix.toString()}` });
    }
  }
  for (const server of nameservers) {
    const addr = Addr.tryParse(server);
    if (addr?.family === 4) {
      out.push({
        prefix: Prefix.of(addr, 32),
        what: `the nameserver ${addr.toString()} in this host's resolv.conf`,
      });
    }
  }
  return out;
}

/** The first reservation `subnet` overlaps, or undefined. */
export function firstOverlap(
  subnet: Prefix,
  reserved: readonly HostReservation[],
): HostReservation | undefined {
  return reserved.find((r) => r.prefix.overlaps(subnet));
}

const RTF_UP = 0x1;
const RTF_GATEWAY = 0x2;

/**
 * Parses /proc/net/route: little-endian hex destination and mask; a route without the
 * RTF_GATEWAY flag is on-link (a connected subnet such as docker0 or a LAN).
 */
export function parseProcNetRoute(text: string): string[] {
  const routes = new Set<string>();
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) {
      continue;
    }
    const [, dest, , flagsHex, , , , maskHex] = cols;
    const flags = parseInt(flagsHex ?? '', 16);
    const destination = leHexToIPv4(dest ?? '');
    const mask = leHexToNumber(maskHex ?? '');
    if (destination === undefined || mask === undefined || Number.isNaN(flags)) {
      continue;
    }
    if ((flags & RTF_UP) === 0 || (flags & RTF_GATEWAY) !== 0 || mask === 0) {
      continue;
    }
    const length = maskLength(mask);
    if (length !== undefined) {
      routes.add(`${destination}/${length}`);
    }
  }
  return [...routes];
}

function leHexToNumber(hex: string): number | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) {
    return undefined;
  }
  const le = parseInt(hex, 16);
  // /proc prints the in-memory (little-endian) u32: swap to network order.
  return (
    (((le & 0xff) << 24) | ((le & 0xff00) << 8) | ((le >>> 8) & 0xff00) | ((le >>> 24) & 0xff)) >>>
    0
  );
}

function leHexToIPv4(hex: string): string | undefined {
  const n = leHexToNumber(hex);
  return n === undefined
    ? undefined
    : [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function maskLength(mask: number): number | undefined {
  const length = Math.clz32(~mask >>> 0);
  // A valid netmask is ones followed by zeros.
  const rebuilt = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return rebuilt === mask ? length : undefined;
}

/** systemd-resolved's stub: dockerd then reads the file systemd-resolved writes instead. */
const SYSTEMD_STUB = '127.0.0.53';

/**
 * The nameservers of a resolv.conf, as dockerd reads them: `nameserver <address>` lines, `#`
 * starting a comment (moby/moby libnetwork/resolvconf/resolvconf.go, GetNameservers). IPv6
 * zones (`%eth0`) are dropped; what does not parse as an address is skipped.
 */
export function parseResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.split('#')[0] ?? '';
    const match = /^\s*nameserver\s+(\S+)\s*$/.exec(line);
    const addr = match ? Addr.tryParse((match[1] ?? '').split('%')[0] ?? '') : undefined;
    if (addr) {
      servers.push(addr.toString());
    }
  }
  return servers;
}

/** This host's routes and resolv.conf, read where dockerd reads them. */
@Injectable()
export class ProcHostNetworks implements HostNetworks {
  routePath = '/proc/net/route';
  resolvConfPath = '/etc/resolv.conf';
  /** Where systemd-resolved writes the nameservers it uses (moby/moby resolvconf, Path). */
  systemdResolvConfPath = '/run/systemd/resolve/resolv.conf';

  onLinkRoutes(): Promise<string[]> {
    // A small file the kernel renders from memory: read at once, rather than through four
    // thread-pool round trips (open, stat, read, close) on every dynamic RequestPool.
    return Promise.resolve(parseProcNetRoute(readOrEmpty(this.routePath)));
  }

  nameservers(): Promise<string[]> {
    const own = parseResolvConf(readOrEmpty(this.resolvConfPath));
    return Promise.resolve(
      own.length === 1 && own[0] === SYSTEMD_STUB
        ? parseResolvConf(readOrEmpty(this.systemdResolvConfPath))
        : own,
    );
  }
}

/** A small file's text; empty when it cannot be read (dockerd skips what it cannot read). */
function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
