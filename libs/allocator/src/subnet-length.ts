import { InvalidRequest, PoolMismatch, SUBNET_LENGTH_OPTION, type PoolRequest } from '#app/ipam';
import type { Prefix } from '#app/net';
import type { StoredPool } from '#app/store';

/*
 * `--ipam-opt subnet-length=N` (README, "Options"): the prefix length of a dynamic IPv4 pool, in
 * place of KONTENA_IPAM_SUBNET_LENGTH for that network. The pool's subnet carries its length, so
 * nothing more is stored: a host asking for a shared pool with another length is refused.
 */

/** The longest prefix a pool may have: a /31 or /32 has no room for a host. */
const MAX_LENGTH = 30;
/** The shortest prefix of any IPv4 pool. */
const MIN_LENGTH = 8;

const OPTION = `Options.${SUBNET_LENGTH_OPTION}`;

/**
 * Refuses a subnet-length that no subnet of the supernet can have, or that contradicts the
 * requested `--subnet`; before anything is read or written.
 */
export function checkSubnetLength(req: PoolRequest, supernet: Prefix): void {
  const length = req.subnetLength;
  // dockerd sends a dual-stack network's options with its IPv6 request too: IPv4 only.
  if (length === undefined || req.v6) {
    return;
  }
  if (req.subnet) {
    if (req.subnet.length !== length) {
      throw new InvalidRequest(
        `${OPTION} ${length} contradicts Pool ${req.subnet.toString()}: give one or the other, or the same length`,
      );
    }
    return;
  }
  const shortest = Math.max(MIN_LENGTH, supernet.length);
  if (length < shortest || length > MAX_LENGTH) {
    throw new InvalidRequest(
      `${OPTION} ${length} is not a prefix length of a pool in the supernet ${supernet.toString()}: expected ${shortest} to ${MAX_LENGTH}`,
    );
  }
}

/** The prefix length of a new dynamic pool: the request's, else the configured one. */
export function dynamicLength(req: PoolRequest, configured: number): number {
  return req.v6 ? configured : (req.subnetLength ?? configured);
}

/** A shared pool joined with a subnet-length is refused when its subnet has another length. */
export function verifySameLength(pool: StoredPool, req: PoolRequest): void {
  const wanted = req.v6 ? undefined : req.subnetLength;
  const length = Number(pool.record.subnet.split('/')[1]);
  if (wanted !== undefined && wanted !== length) {
    throw new PoolMismatch(
      `pool ${pool.id} exists with subnet ${pool.record.subnet} (length ${length}), requested ${SUBNET_LENGTH_OPTION} ${wanted}`,
    );
  }
}
