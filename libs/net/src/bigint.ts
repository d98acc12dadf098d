// Internal bigint helpers; not part of the public API.

/** `Array.prototype.sort` needs a number, and `a - b` on bigints would not fit one. */
export function compareBigInt(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Precomputed because masks are needed on every prefix operation, including once per reserved
// prefix in `firstFreeSubnet` sweeps, and building a bigint from a shift each time shows up there.
const MASKS: readonly bigint[] = Array.from({ length: 129 }, (_, i) => (1n << BigInt(i)) - 1n);

/** Mask of the low `hostBits` bits (0-128), i.e. the host part of a prefix. */
export function hostMask(hostBits: number): bigint {
  return MASKS[hostBits] ?? (1n << BigInt(hostBits)) - 1n;
}
