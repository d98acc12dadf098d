import {
  InvalidRequest,
  MAX_V6_POOL_LENGTH,
  MIN_V6_POOL_LENGTH,
  PoolMismatch,
  SUBNET6_LENGTH_OPTION,
  SUBNET_LENGTH_OPTION,
  type PoolRequest,
} from '#app/ipam';
import type { StoredPool } from '#app/store';

import type { Supernet } from './supernet6.js';

/*
 * `--ipam-opt subnet-length=N` and `subnet6-length=N` (README, "Options"): the prefix length of a
 * dynamic IPv4 or IPv6 pool, in place of KONTENA_IPAM_SUBNET_LENGTH or _SUBNET6_LENGTH (and of
 * any supernet's own `:LENGTH`) for that network. dockerd sends a dual-stack network's options with both its requests: each request
 * takes the option of its family. The pool's subnet carries its length, so nothing more is
 * stored: a host asking for a shared pool with another length is refused.
 */

/** The option of one family, and the lengths a pool of that family may have. */
interface LengthRule {
  option: string;
  length?: number;
  /** The shortest prefix of any pool of the family. */
  min: number;
  /** The longest prefix of a pool: a /31 or /32 has no room for a host (IPv6: libs/ipam). */
  max: number;
}

function ruleOf(req: PoolRequest): LengthRule {
  return req.v6
    ? {
        option: SUBNET6_LENGTH_OPTION,
        length: req.subnet6Length,
        min: MIN_V6_POOL_LENGTH,
        max: MAX_V6_POOL_LENGTH,
      }
    : { option: SUBNET_LENGTH_OPTION, length: req.subnetLength, min: 8, max: 30 };
}

/**
 * Refuses a length option that no subnet of the supernets can have, or that contradicts the
 * requested `--subnet`. `supernets` are those of the request's family; undefined for IPv6 before
 * the cluster's ULA /48 is read (then only the bounds of any IPv6 pool apply). A length that fits
 * only some of the supernets is accepted: the others are passed over.
 */
export function checkSubnetLength(
  req: PoolRequest,
  supernets: readonly Supernet[] | undefined,
): void {
  const { option, length, min, max } = ruleOf(req);
  if (length === undefined) {
    return;
  }
  if (req.subnet) {
    if (req.subnet.length !== length) {
      throw new InvalidRequest(
        `Options.${option} ${length} contradicts Pool ${req.subnet.toString()}: give one or the other, or the same length`,
      );
    }
    return;
  }
  const widest = supernets?.length ? Math.min(...supernets.map((s) => s.prefix.length)) : 0;
  const shortest = Math.max(min, widest);
  if (length < shortest || length > max) {
    const names = (supernets ?? []).map((s) => s.prefix.toString());
    const where =
      names.length === 0
        ? ''
        : names.length === 1
          ? ` in the supernet ${names[0]}`
          : ` in any of the supernets ${names.join(', ')}`;
    throw new InvalidRequest(
      `Options.${option} ${length} is not a prefix length of a pool${where}: expected ${shortest} to ${max}`,
    );
  }
}

/** A shared pool joined with a length option is refused when its subnet has another length. */
export function verifySameLength(pool: StoredPool, req: PoolRequest): void {
  const { option, length: wanted } = ruleOf(req);
  const length = Number(pool.record.subnet.split('/')[1]);
  if (wanted !== undefined && wanted !== length) {
    throw new PoolMismatch(
      `pool ${pool.id} exists with subnet ${pool.record.subnet} (length ${length}), requested ${option} ${wanted}`,
    );
  }
}
