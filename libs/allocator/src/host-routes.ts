import { readFileSync } from 'node:fs';
import { Injectable } from '@nestjs/common';

/** Where new dynamic subnets must not land: this host's on-link IPv4 routes (spec 1.3, W14). */
export const HOST_ROUTES = Symbol('HOST_ROUTES');

export interface HostRoutes {
  /** On-link IPv4 routes as CIDR strings ("172.17.0.0/16"); the default route is never one. */
  onLinkRoutes(): Promise<string[]>;
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

@Injectable()
export class ProcHostRoutes implements HostRoutes {
  path = '/proc/net/route';

  onLinkRoutes(): Promise<string[]> {
    try {
      // A small file the kernel renders from memory: read at once, rather than through four
      // thread-pool round trips (open, stat, read, close) on every dynamic RequestPool.
      return Promise.resolve(parseProcNetRoute(readFileSync(this.path, 'utf8')));
    } catch {
      return Promise.resolve([]);
    }
  }
}
