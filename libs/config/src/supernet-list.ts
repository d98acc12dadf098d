import { MAX_V6_POOL_LENGTH, MIN_V6_POOL_LENGTH } from '#app/ipam';
import type { Prefix } from '#app/net';

import { parseSupernet, parseSupernet6, splitList, toStrictInt } from './env-rules.js';

/*
 * KONTENA_IPAM_SUPERNET and KONTENA_IPAM_SUPERNET6 (README, "Configuration"): a comma-separated
 * list of `CIDR[:LENGTH]`, tried in order. An entry's LENGTH is the prefix length of the dynamic
 * pools carved from it; without one, KONTENA_IPAM_SUBNET_LENGTH (_SUBNET6_LENGTH) applies. The
 * length follows the CIDR's own `/len` after a colon, which IPv6 text cannot be confused with:
 * no colon ever follows the `/` of a CIDR (`fd00:1::/48:64`).
 */

/** Largest IPv4 supernet / subnet prefix length: a /31 or /32 leaves no room for usable hosts. */
export const MAX_PREFIX_LENGTH = 30;
/** Smallest IPv4 subnet prefix length, whatever the supernet. */
export const MIN_SUBNET_LENGTH = 8;

/** One entry as written: the network and, when it says so, its own subnet length. */
export interface SupernetEntry {
  prefix: Prefix;
  length?: number;
}

export type SupernetListParse = { ok: true; entries: SupernetEntry[] } | { ok: false; why: string };

/** The bounds of a pool's prefix length in one family, whatever the supernet. */
const LENGTH_BOUNDS: Record<4 | 6, { min: number; max: number }> = {
  4: { min: MIN_SUBNET_LENGTH, max: MAX_PREFIX_LENGTH },
  6: { min: MIN_V6_POOL_LENGTH, max: MAX_V6_POOL_LENGTH },
};

/**
 * Parses and checks a supernet list of one family: every entry a network of that family as a
 * single supernet must be, every LENGTH within the pool bounds and at least the entry's prefix
 * length, and no two entries overlapping. `why` names the entry at fault when there are several,
 * so one message serves the single-entry default and a list of ten alike.
 */
export function parseSupernetList(text: string, family: 4 | 6): SupernetListParse {
  // Blank items are dropped, as in ETCD_ENDPOINT: a trailing comma is no error.
  const items = splitList(text);
  if (items.length === 0) {
    return { ok: false, why: 'must list at least one network' };
  }
  const entries: SupernetEntry[] = [];
  for (const [index, item] of items.entries()) {
    const where = items.length > 1 ? `item ${index + 1} (${item}) ` : '';
    const parsed = parseEntry(item, family);
    if ('why' in parsed) {
      return { ok: false, why: `${where}${parsed.why}` };
    }
    const overlapping = entries.findIndex((e) => e.prefix.overlaps(parsed.prefix));
    if (overlapping >= 0) {
      return {
        ok: false,
        why: `${where}overlaps item ${overlapping + 1} (${entries[overlapping]!.prefix.toString()}): the supernets of a list must not overlap`,
      };
    }
    entries.push(parsed);
  }
  return { ok: true, entries };
}

/**
 * The shortest subnet length the plain setting (KONTENA_IPAM_SUBNET_LENGTH or _SUBNET6_LENGTH)
 * may have: it applies to the entries without a LENGTH of their own, so it is at least each of
 * their prefix lengths. undefined when the list does not parse (its own error says why).
 */
export function shortestDefaultLength(
  text: string,
  family: 4 | 6,
): { length: number; entries: number } | undefined {
  const parsed = parseSupernetList(text, family);
  if (!parsed.ok) {
    return undefined;
  }
  const defaulted = parsed.entries.filter((e) => e.length === undefined);
  const longest = Math.max(0, ...defaulted.map((e) => e.prefix.length));
  return { length: Math.max(LENGTH_BOUNDS[family].min, longest), entries: parsed.entries.length };
}

function parseEntry(item: string, family: 4 | 6): SupernetEntry | { why: string } {
  const slash = item.lastIndexOf('/');
  const colon = slash < 0 ? -1 : item.indexOf(':', slash);
  const cidr = colon < 0 ? item : item.slice(0, colon);
  const prefix = family === 4 ? ipv4Supernet(cidr) : parseSupernet6(cidr);
  if (!prefix.ok) {
    return { why: prefix.why };
  }
  if (colon < 0) {
    return { prefix: prefix.prefix };
  }
  const lengthText = item.slice(colon + 1);
  const length = toStrictInt(lengthText);
  const min = Math.max(LENGTH_BOUNDS[family].min, prefix.prefix.length);
  const max = LENGTH_BOUNDS[family].max;
  if (!(length >= min && length <= max)) {
    return {
      why: `has subnet length :${lengthText}, which must be an integer from ${min} to ${max} (at least the network's prefix length /${prefix.prefix.length})`,
    };
  }
  return { prefix: prefix.prefix, length };
}

/** One IPv4 supernet: CIDR, prefix length 0-30, no host bits; `why` says what is wrong. */
function ipv4Supernet(text: string): { ok: true; prefix: Prefix } | { ok: false; why: string } {
  const parsed = parseSupernet(text);
  if (!parsed.ok && parsed.reason === 'ipv6') {
    return {
      ok: false,
      why: 'is an IPv6 network: must be an IPv4 network such as 10.80.0.0/12 (IPv6 pools come from KONTENA_IPAM_SUPERNET6)',
    };
  }
  if (!parsed.ok || parsed.prefix.length > MAX_PREFIX_LENGTH) {
    return {
      ok: false,
      why: `must be an IPv4 network in CIDR notation with a prefix length from 0 to ${MAX_PREFIX_LENGTH}, e.g. 10.80.0.0/12`,
    };
  }
  if (parsed.prefix.hasHostBits()) {
    return {
      ok: false,
      why: `must not have host bits set (did you mean ${parsed.prefix.masked().toString()}?)`,
    };
  }
  return parsed;
}
