import { EXCLUDE_OPTION, InvalidRequest, PoolMismatch, type PoolRequest } from '#app/ipam';
import { Prefix, type Addr } from '#app/net';
import type { StoredPool } from '#app/store';

/*
 * `--ipam-opt exclude=CIDR[,CIDR…]` (README, "Options"): addresses of a static pool that are never
 * handed out dynamically (routers and appliances outside Docker). Stored with the pool, so that
 * every host honours them; `--ip` may still ask for one.
 */

/** The most addresses one pool may exclude: candidates are skipped one by one. */
export const MAX_EXCLUDED = 65_536n;

const OPTION = `Options.${EXCLUDE_OPTION}`;

/**
 * Refuses exclusions outside the requested subnet, or too many, before anything is read; a
 * request without `--subnet` may only join a shared pool that has one (checkNewPoolExclusions).
 */
export function checkExclusions(req: PoolRequest): void {
  const exclude = req.exclude;
  // dockerd sends a dual-stack network's options with its IPv6 request too: IPv4 only.
  if (exclude === undefined || req.v6) {
    return;
  }
  if (!req.subnet) {
    if (req.network === undefined) {
      throw needsSubnet();
    }
    return;
  }
  let total = 0n;
  for (const prefix of exclude) {
    if (!req.subnet.containsPrefix(prefix)) {
      throw new InvalidRequest(
        `${OPTION} ${prefix.toString()} is not inside Pool ${req.subnet.toString()}`,
      );
    }
    total += prefix.size();
  }
  if (total > MAX_EXCLUDED) {
    throw new InvalidRequest(
      `${OPTION} excludes ${total} addresses: at most ${MAX_EXCLUDED} (a /16) per pool`,
    );
  }
}

/** A pool about to be created with exclusions has a requested subnet. */
export function checkNewPoolExclusions(req: PoolRequest): void {
  if (req.exclude !== undefined && !req.v6 && !req.subnet) {
    throw needsSubnet();
  }
}

function needsSubnet(): InvalidRequest {
  return new InvalidRequest(
    `${OPTION} needs --subnet: the addresses to exclude must be known before the pool is`,
  );
}

/** The exclusions as stored: canonical prefixes, sorted, each once (IPv4 pools only). */
export function storedExclusions(exclude: readonly Prefix[]): string[] {
  return [...new Set([...exclude].sort((a, b) => a.compare(b)).map((p) => p.toString()))];
}

/** A shared pool asked for with exclusions is refused when they are not the stored ones. */
export function verifySameExclusions(pool: StoredPool, req: PoolRequest): void {
  if (req.exclude === undefined || req.v6) {
    return;
  }
  const stored = (pool.record.exclude ?? []).join(',');
  const wanted = storedExclusions(req.exclude).join(',');
  if (stored !== wanted) {
    throw new PoolMismatch(
      `pool ${pool.id} exists with ${EXCLUDE_OPTION} ${stored === '' ? '(none)' : stored}, requested ${wanted}`,
    );
  }
}

/** The stored exclusions of a pool, for the choice of dynamic candidates. */
export class Exclusions {
  private readonly prefixes: Prefix[];

  constructor(stored: readonly string[] | undefined) {
    this.prefixes = (stored ?? []).flatMap((text) => {
      const prefix = Prefix.tryParse(text);
      return prefix ? [prefix] : [];
    });
  }

  get empty(): boolean {
    return this.prefixes.length === 0;
  }

  has(addr: Addr): boolean {
    return this.prefixes.some((p) => p.contains(addr));
  }
}
