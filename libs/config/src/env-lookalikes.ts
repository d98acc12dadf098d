/**
 * Variables that are set but not read, and look like one that is: `ETCD_ENDPOINTS`,
 * `KONTENA_IPAM_SUBNETLENGTH`, `node_id`, `LOG-LEVEL`. A typo there leaves the default in force
 * without a word, so the start-up log names the variable meant (configWarnings).
 */

/** Upper case, `-` as `_`: how a name differs by case or dash alone. */
const normal = (name: string): string => name.toUpperCase().replace(/-/g, '_');

/** Levenshtein distance, cut off above `max` (names are short: a plain table is enough). */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) {
    return max + 1;
  }
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? max + 1;
}

/**
 * The known name that `name` looks like, if any: the same but for case, `-` for `_` or missing
 * underscores; or, for names of 10 characters or more, at most 2 edits away (`NODE_IP` is not
 * `NODE_ID`, but `ETCD_ENDPOINTS` is `ETCD_ENDPOINT`).
 */
export function lookalikeOf<K extends string>(name: string, known: readonly K[]): K | undefined {
  if ((known as readonly string[]).includes(name)) {
    return undefined;
  }
  const n = normal(name);
  const bare = n.replace(/_/g, '');
  return known.find(
    (k) =>
      k === n || k.replace(/_/g, '') === bare || (k.length >= 10 && editDistance(n, k, 2) <= 2),
  );
}

/** Every set variable that looks like a known one, with the one it looks like, in name order. */
export function findLookalikes<K extends string>(
  env: Readonly<Record<string, string | undefined>>,
  known: readonly K[],
): { name: string; meant: K }[] {
  const found: { name: string; meant: K }[] = [];
  for (const name of Object.keys(env).sort()) {
    const meant = lookalikeOf(name, known);
    if (meant !== undefined && env[name] !== undefined) {
      found.push({ name, meant });
    }
  }
  return found;
}
