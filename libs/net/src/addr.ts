import ipaddr from 'ipaddr.js';

import { compareBigInt, hostMask } from './bigint.js';
import { NetParseError, quote } from './errors.js';

export type Family = 4 | 6;

/**
 * A strict dotted quad as an unsigned 32-bit number, or undefined: exactly four decimal octets,
 * no leading zeros, no blanks. inet_aton-style shorthands ("10.1", "0x0a.0.0.1", "010.0.0.1")
 * are rejected because they silently mean something other than what most readers expect (010 is
 * octal 8 there), which is how allocation bugs are born. A plain number rather than an Addr, and
 * no regular expression: the allocator reads whole pools of keys (100,000 and more) with it.
 */
export function parseIPv4Number(s: string): number | undefined {
  let value = 0;
  let octet = -1; // -1: no digit yet in this octet
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (octet < 0 || dots === 3) {
        return undefined;
      }
      value = value * 256 + octet;
      octet = -1;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (octet === 0) {
        return undefined; // a leading zero
      }
      octet = octet < 0 ? c - 48 : octet * 10 + c - 48;
      if (octet > 255) {
        return undefined;
      }
    } else {
      return undefined;
    }
  }
  return dots === 3 && octet >= 0 ? value * 256 + octet : undefined;
}

/** Trailing dotted quad in IPv6 text ("::ffff:1.2.3.4"); see parseV6 for why we handle it. */
const EMBEDDED_IPV4_RE = /:([^:]*\.[^:]*)$/;

const MAX_V4 = hostMask(32);
const MAX_V6 = hostMask(128);
const V4_MAPPED_PREFIX = 0xffffn;

function parseV4(s: string): bigint | undefined {
  const n = parseIPv4Number(s);
  return n === undefined ? undefined : BigInt(n);
}

function parseV6(s: string): bigint | undefined {
  // Zones ("fe80::1%eth0") are host-local and meaningless to a cluster-wide allocator.
  if (s.includes('%')) {
    return undefined;
  }
  let text = s;
  // ipaddr.js reads "::a.b.c.d" as IPv4-mapped (not RFC 4291) and accepts octal/hex octets,
  // so the trailing dotted quad is converted to two hex groups here before it sees the text.
  const embedded = EMBEDDED_IPV4_RE.exec(s);
  if (embedded !== null) {
    const v4 = parseV4(embedded[1] ?? '');
    if (v4 === undefined) {
      return undefined;
    }
    const groups = `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
    text = s.slice(0, embedded.index + 1) + groups;
  }
  if (!ipaddr.IPv6.isValid(text)) {
    return undefined;
  }
  let value = 0n;
  for (const part of ipaddr.IPv6.parse(text).parts) {
    value = (value << 16n) | BigInt(part);
  }
  return value;
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => ((v >> shift) & 0xffn).toString()).join('.');
}

function hexGroups(groups: number[]): string {
  return groups.map((n) => n.toString(16)).join(':');
}

/**
 * RFC 5952 text so that one address has exactly one spelling, which lets callers use
 * `toString()` as a map/etcd key. IPv4-mapped addresses use the mixed form recommended by
 * RFC 5952 section 5 (and used by Go's netip), e.g. "::ffff:1.2.3.4".
 */
function formatV6(v: bigint): string {
  if (v >> 32n === V4_MAPPED_PREFIX) {
    return `::ffff:${formatV4(v & MAX_V4)}`;
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(Number((v >> shift) & 0xffffn));
  }
  // Longest run of zero groups (length >= 2, first one on ties) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) {
      j++;
    }
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) {
    return hexGroups(groups);
  }
  return `${hexGroups(groups.slice(0, bestStart))}::${hexGroups(groups.slice(bestStart + bestLen))}`;
}

/**
 * An IP address as (family, unsigned integer). Immutable, so instances can be shared freely.
 * Arithmetic happens on bigint because IPv6 does not fit a double, and because keeping the
 * family next to the value avoids the classic "::ffff:1.2.3.4 vs 1.2.3.4" confusion: they are
 * different addresses here, of different families, exactly as in Go's netip.
 */
export class Addr {
  readonly family: Family;
  readonly value: bigint;

  private constructor(family: Family, value: bigint) {
    this.family = family;
    this.value = value;
  }

  /**
   * Accepts strict dotted-quad IPv4 and any RFC 4291 IPv6 text. No zone ids, brackets or
   * surrounding whitespace: input is usually user config, and guessing hides typos.
   */
  static parse(s: string): Addr {
    if (s.includes(':')) {
      const v = parseV6(s);
      if (v !== undefined) {
        return new Addr(6, v);
      }
      const why = s.includes('%') ? ': zone identifiers are not supported' : '';
      throw new NetParseError(s, `invalid IP address ${quote(s)}${why}`);
    }
    const v = parseV4(s);
    if (v === undefined) {
      throw new NetParseError(s, `invalid IP address ${quote(s)}`);
    }
    return new Addr(4, v);
  }

  /** For validation paths where an exception would only be caught and discarded. */
  static tryParse(s: string): Addr | undefined {
    try {
      return Addr.parse(s);
    } catch (e) {
      if (e instanceof NetParseError) {
        return undefined;
      }
      throw e;
    }
  }

  /**
   * RangeError rather than NetParseError: an out-of-range integer is a bug in the caller's
   * arithmetic, not bad user input.
   */
  static fromBigInt(family: Family, value: bigint): Addr {
    if (family !== 4 && family !== 6) {
      throw new RangeError(`invalid address family ${String(family)}`);
    }
    if (value < 0n || value > (family === 4 ? MAX_V4 : MAX_V6)) {
      throw new RangeError(`value ${value} out of range for IPv${family}`);
    }
    return new Addr(family, value);
  }

  get bits(): 32 | 128 {
    return this.family === 4 ? 32 : 128;
  }

  toString(): string {
    return this.family === 4 ? formatV4(this.value) : formatV6(this.value);
  }

  equals(o: Addr): boolean {
    return this.family === o.family && this.value === o.value;
  }

  /** Total order (IPv4 before IPv6) so mixed lists sort deterministically. */
  compare(o: Addr): number {
    if (this.family !== o.family) {
      return this.family < o.family ? -1 : 1;
    }
    return compareBigInt(this.value, o.value);
  }

  /** undefined instead of wrapping: a wrapped address would silently land in another network. */
  add(n: bigint): Addr | undefined {
    const v = this.value + n;
    if (v < 0n || v > (this.family === 4 ? MAX_V4 : MAX_V6)) {
      return undefined;
    }
    return new Addr(this.family, v);
  }
}
