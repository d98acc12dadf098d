import { renderCheckText, type CheckReport } from '../../../cleanup/src/check.js';
import type { PoolOutcome } from './importer.js';
import type { Skipped } from './plan.js';

/** What `import-v2` prints (text lines, or this object with --json). */
export interface ImportReport {
  mode: 'import-v2';
  dryRun: boolean;
  /** the etcd v2 URL read from */
  from: string;
  /** ETCD_PREFIX written to */
  prefix: string;
  pools: PoolOutcome[];
  skipped: Skipped[];
  /** the consistency check after a real import */
  check?: CheckReport;
  /** true when everything was imported (or present already) and the check is clean */
  ok: boolean;
}

export function importOk(report: Omit<ImportReport, 'ok'>): boolean {
  return (
    report.skipped.length === 0 &&
    report.pools.every((p) => p.conflicts.length === 0) &&
    (report.check === undefined || report.check.ok)
  );
}

function poolLine(p: PoolOutcome, dryRun: boolean): string {
  const would = dryRun ? 'would be ' : '';
  const state =
    p.pool === 'created'
      ? `${would}created`
      : p.pool === 'present'
        ? 'present already'
        : 'CONFLICT';
  if (p.pool === 'conflict') {
    return `pool ${p.id} ${p.subnet}: ${state}`;
  }
  return (
    `pool ${p.id} ${p.subnet}: ${state}; memberships ${p.members.created} ${would}new, ` +
    `${p.members.present} present; addresses ${p.addresses.created} ${would}new, ` +
    `${p.addresses.present} present`
  );
}

/** One line per pool, per conflict and per skipped key, a summary, then the check's lines. */
export function renderImportText(report: ImportReport): string[] {
  const lines: string[] = [];
  for (const p of report.pools) {
    lines.push(poolLine(p, report.dryRun));
    lines.push(...p.conflicts.map((c) => `conflict ${c}`));
  }
  lines.push(...report.skipped.map((s) => `skipped ${s.key}: ${s.reason}`));
  const count = (f: (p: PoolOutcome) => boolean): number => report.pools.filter(f).length;
  const conflicts = report.pools.reduce((n, p) => n + p.conflicts.length, 0);
  const verb = report.dryRun ? 'dry run, nothing written' : 'imported';
  lines.push(
    `import-v2 from ${report.from} into ${report.prefix} (${verb}): ` +
      `${count((p) => p.pool === 'created')} pool(s) ${report.dryRun ? 'to create' : 'created'}, ` +
      `${count((p) => p.pool === 'present')} present already, ${conflicts} conflict(s), ` +
      `${report.skipped.length} 0.2 key(s) skipped`,
  );
  if (report.check) {
    lines.push(...renderCheckText(report.check));
  }
  return lines;
}
