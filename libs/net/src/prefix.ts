import { Addr, type Family } from './addr.js';
import { compareBigInt, hostMask } from './bigint.js';
import { NetParseError, quote } from './errors.js';

/** Decimal without sign or leading zeros, as in Go's netip: "/08" is more likely a typo than 8. */
const LENGTH_RE = /^(0|[1-9]\d*)$/;

/**
 * A CIDR prefix. Like Go's netip.Prefix it keeps the address exactly as given (host bits are
 * not zeroed), so "10.80.0.1/24" can describe an interface address plus its network without a
 * second field; call `masked()` when you need the canonical network form.
 */
export class Prefix {
  readonly addr: Addr;
  readonly length: number;

  private constructor(addr: Addr, length: number) {
    this.addr = addr;
    this.length = length;
  }

  /** A bare address is rejected rather than read as /32 or /128, so a missing length is loud. */
  static parse(s: string): Prefix {
    const fail = (why: string): never => {
      throw new NetParseError(s, `invalid CIDR prefix ${quote(s)}: ${why}`);
    };
    const slash = s.indexOf('/');
    if (slash < 0) {
      return fail('missing "/" and prefix length');
    }
    const addrText = s.slice(0, slash);
    const lengthText = s.slice(slash + 1);
    let addr: Addr;
    try {
      addr = Addr.parse(addrText);
    } catch (e) {
      if (e instanceof NetParseError) {
        return fail(e.message);
      }
      throw e;
    }
    if (lengthText === '') {
      return fail('missing prefix length');
    }
    if (!LENGTH_RE.test(lengthText)) {
      return fail(`prefix length ${quote(lengthText)} is not a decimal integer`);
    }
    const length = Number(lengthText);
    if (length > addr.bits) {
      return fail(`prefix length must be 0-${addr.bits} for IPv${addr.family}`);
    }
    return new Prefix(addr, length);
  }

  /** For validation paths where an exception would only be caught and discarded. */
  static tryParse(s: string): Prefix | undefined {
    try {
      return Prefix.parse(s);
    } catch (e) {
      if (e instanceof NetParseError) {
        return undefined;
      }
      throw e;
    }
  }

  /** RangeError, not NetParseError: a bad computed length is a caller bug, not bad input. */
  static of(addr: Addr, length: number): Prefix {
    if (!Number.isInteger(length) || length < 0 || length > addr.bits) {
      throw new RangeError(
        `prefix length ${length} out of range 0-${addr.bits} for IPv${addr.family}`,
      );
    }
    return new Prefix(addr, length);
  }

  get family(): Family {
    return this.addr.family;
  }

  private get hostBitsMask(): bigint {
    return hostMask(this.addr.bits - this.length);
  }

  private get start(): bigint {
    return this.addr.value & ~this.hostBitsMask;
  }

  private get end(): bigint {
    return this.addr.value | this.hostBitsMask;
  }

  /**
   * Usable host range. IPv4 loses network and broadcast except on /31 (RFC 3021 point-to-point)
   * and /32; IPv6 has no broadcast but the network address is the subnet-router anycast
   * address (RFC 4291 2.6.1), so it is skipped except on /127 (RFC 6164) and /128.
   */
  private get hostRange(): [bigint, bigint] {
    const { start, end } = this;
    const hostBits = this.addr.bits - this.length;
    if (hostBits <= 1) {
      return [start, end];
    }
    return this.family === 4 ? [start + 1n, end - 1n] : [start + 1n, end];
  }

  hasHostBits(): boolean {
    return (this.addr.value & this.hostBitsMask) !== 0n;
  }

  masked(): Prefix {
    return new Prefix(this.network(), this.length);
  }

  network(): Addr {
    return Addr.fromBigInt(this.family, this.start);
  }

  /** Named for IPv4 habits; for IPv6 this is simply the last address of the range. */
  broadcast(): Addr {
    return Addr.fromBigInt(this.family, this.end);
  }

  size(): bigint {
    return 1n << BigInt(this.addr.bits - this.length);
  }

  /** Never undefined for a valid prefix; the optional type leaves room for empty ranges. */
  firstHost(): Addr | undefined {
    return Addr.fromBigInt(this.family, this.hostRange[0]);
  }

  /** Never undefined for a valid prefix; the optional type leaves room for empty ranges. */
  lastHost(): Addr | undefined {
    return Addr.fromBigInt(this.family, this.hostRange[1]);
  }

  hostCount(): bigint {
    const [first, last] = this.hostRange;
    return last - first + 1n;
  }

  /** Lets allocators map an index (e.g. from a bitmap) to an address without looping. */
  nthHost(n: bigint): Addr | undefined {
    const [first, last] = this.hostRange;
    if (n < 0n || first + n > last) {
      return undefined;
    }
    return Addr.fromBigInt(this.family, first + n);
  }

  /** Whether `a` may be handed out to a container: inside the prefix and not reserved by it. */
  isHost(a: Addr): boolean {
    if (a.family !== this.family) {
      return false;
    }
    const [first, last] = this.hostRange;
    return a.value >= first && a.value <= last;
  }

  /** false across families: "::ffff:10.0.0.1" is not in 10.0.0.0/8 (same rule as netip). */
  contains(a: Addr): boolean {
    return a.family === this.family && (a.value & ~this.hostBitsMask) === this.start;
  }

  containsPrefix(p: Prefix): boolean {
    return p.family === this.family && p.length >= this.length && this.contains(p.addr);
  }

  /** Two prefixes either nest or are disjoint, so overlap means the shorter one contains the other. */
  overlaps(p: Prefix): boolean {
    return this.length <= p.length ? this.containsPrefix(p) : p.containsPrefix(this);
  }

  toString(): string {
    return `${this.addr.toString()}/${this.length}`;
  }

  /** Exact equality, host bits included: 10.0.0.1/24 is not 10.0.0.0/24. */
  equals(o: Prefix): boolean {
    return this.length === o.length && this.addr.equals(o.addr);
  }

  /**
   * Family, then masked network, then length, so sorted lists read like a routing table
   * (supernets just before their subnets). Ties between prefixes that differ only in host bits
   * are broken by the full address, keeping `compare() === 0` in step with `equals()`.
   */
  compare(o: Prefix): number {
    if (this.family !== o.family) {
      return this.family < o.family ? -1 : 1;
    }
    return (
      compareBigInt(this.start, o.start) ||
      Math.sign(this.length - o.length) ||
      compareBigInt(this.addr.value, o.addr.value)
    );
  }
}

/**
 * The inclusive [first, last] address values covered by `p`. Range math on plain bigints is what
 * makes interval sweeps (see `firstFreeSubnet`) cheap; host bits are ignored.
 */
export function intervalOf(p: Prefix): [bigint, bigint] {
  const m = hostMask(p.addr.bits - p.length);
  return [p.addr.value & ~m, p.addr.value | m];
}
