import { POOL_OPTION_KEYS } from '#app/ipam';

/*
 * `--ipam-opt` keys: a typo of a known key would otherwise be ignored in silence, and the
 * network created without what was asked for (`netwrok=blue` makes a private pool, not the
 * shared one). Other keys are accepted (another tool may put its own options there) and logged.
 */

/** The known key that `key` is a near miss of, or undefined (for a known key too). */
export function nearMissOf(key: string): string | undefined {
  if (POOL_OPTION_KEYS.includes(key)) {
    return undefined;
  }
  const folded = fold(key);
  const same = POOL_OPTION_KEYS.find((known) => known === folded);
  if (same !== undefined) {
    return same;
  }
  let nearest: { known: string; d: number } | undefined;
  for (const known of POOL_OPTION_KEYS) {
    const d = distance(folded, known);
    if (d <= 2 && (nearest === undefined || d < nearest.d)) {
      nearest = { known, d };
    }
  }
  return nearest?.known;
}

/** Case and `_` folded: `Subnet_Length` and `subnet-length` are one key (known keys use `-`). */
function fold(key: string): string {
  return key.toLowerCase().replaceAll('_', '-');
}

/** Levenshtein distance; keys are short, and a longer one is far from every known key anyway. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) {
    return 3;
  }
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
