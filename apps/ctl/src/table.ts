/** Plain-text tables for a terminal: columns padded to their widest cell, two spaces apart. */

export interface Column {
  title: string;
  /** numbers read best aligned to the right */
  right?: boolean;
}

/** The header line, then one line per row; trailing spaces trimmed. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? 0;
        return c.right ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)];
}

/** `[#####...............]`: `used` of `total` in `width` characters (full only when all used). */
export function bar(used: bigint, total: bigint, width = 20): string {
  let filled = total > 0n ? Number((used * BigInt(width)) / total) : 0;
  if (used > 0n && filled === 0) {
    filled = 1; // anything allocated shows
  }
  filled = Math.min(filled, width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** `used` of `total` as a percentage with one decimal (`12.5%`), exact for any size. */
export function percent(used: bigint, total: bigint): string {
  if (total <= 0n) {
    return '-';
  }
  const tenths = (used * 1000n + total / 2n) / total;
  return `${tenths / 10n}.${tenths % 10n}%`;
}

/** How long ago `time` was, in the largest whole unit (`3m`, `2h`, `5d`), or `-`. */
export function ago(time: string | undefined, now: Date): string {
  const at = time === undefined ? Number.NaN : Date.parse(time);
  if (Number.isNaN(at)) {
    return '-';
  }
  const seconds = Math.max(0, Math.round((now.getTime() - at) / 1000));
  if (seconds < 120) {
    return `${seconds}s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) {
    return `${minutes}m`;
  }
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
}
