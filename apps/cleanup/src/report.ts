import type { CleanupTotals } from '#app/store';

import {
  ADDRESS_REASON_ORDER,
  ADDRESS_REASONS,
  type AddressReason,
  type AddressResult,
} from './plan.js';

/**
 * What a cleanup did (or, with --dry-run, would do), as data: printed as one text line per pool
 * or as one JSON object (--json). In a dry run "freed" and "deleted" mean "would be".
 */
export interface CleanupReport {
  ok: boolean;
  mode: 'pass' | 'forget-node';
  /** This node (a pass) or the forgotten node. */
  node: string;
  dryRun: boolean;
  /** R: the etcd revision the pass began at. */
  revision?: string;
  /** Docker's IPAM driver name of this plugin (a pass). */
  driver?: string;
  pools: PoolReport[];
  warnings: string[];
  totals: Totals;
  /** Why the cleanup failed (ok false). */
  error?: string;
}

/** What the pass did, counted: also what it records as this node's last pass in etcd. */
export type Totals = CleanupTotals;

export interface AddressOutcome {
  ip: string;
  node: string;
  type?: string;
  result: AddressResult;
  reason: AddressReason;
}

export type MembershipOutcome = { node: string } & (
  | { result: 'kept'; refs: number; reason: 'in-use' | 'foreign-network' }
  | { result: 'refs-set'; from: number; to: number }
  | { result: 'deleted'; reason: 'no-local-network' | 'forgotten' }
  | { result: 'skipped'; reason: 'new' | 'changed' }
  | { result: 'missing' }
);

export type PoolOutcome =
  | {
      result: 'kept';
      reason: 'has-members' | 'used-locally' | 'changed' | 'not-forgotten' | 'invalid';
    }
  | { result: 'deleted' };

export interface PoolReport {
  pool: string;
  subnet: string;
  /** Local Docker networks on the pool (a pass): this driver's, then foreign ones. */
  networks: string[];
  kept: number;
  freed: number;
  skipped: number;
  reasons: Partial<Record<AddressReason, number>>;
  addresses: AddressOutcome[];
  /** This node's membership (a pass) or the forgotten node's; absent when there is none. */
  membership?: MembershipOutcome;
  outcome: PoolOutcome;
}

export function emptyReport(
  mode: CleanupReport['mode'],
  node: string,
  dryRun: boolean,
): CleanupReport {
  return {
    ok: true,
    mode,
    node,
    dryRun,
    pools: [],
    warnings: [],
    totals: {
      kept: 0,
      freed: 0,
      skipped: 0,
      membershipsDeleted: 0,
      refsSet: 0,
      poolsDeleted: 0,
    },
  };
}

/** Counts one address outcome into its pool and the totals. */
export function countAddress(
  report: CleanupReport,
  pool: PoolReport,
  outcome: AddressOutcome,
): void {
  pool.addresses.push(outcome);
  pool[outcome.result]++;
  report.totals[outcome.result]++;
  pool.reasons[outcome.reason] = (pool.reasons[outcome.reason] ?? 0) + 1;
}

export function addressOutcome(
  ip: string,
  node: string,
  type: string | undefined,
  reason: AddressReason,
): AddressOutcome {
  return { ip, node, ...(type ? { type } : {}), result: ADDRESS_REASONS[reason], reason };
}

/** The text report: one line per pool, the warnings, then a summary line. */
export function renderText(report: CleanupReport): string[] {
  const lines = report.pools.map((p) => poolLine(p, report.dryRun));
  lines.push(...report.warnings.map((w) => `warning: ${w}`));
  lines.push(summaryLine(report));
  return lines;
}

export function renderJson(report: CleanupReport): string {
  return JSON.stringify(report);
}

function poolLine(p: PoolReport, dryRun: boolean): string {
  const reasons = (result: AddressResult): string => {
    const parts = ADDRESS_REASON_ORDER.filter(
      (reason) => ADDRESS_REASONS[reason] === result && (p.reasons[reason] ?? 0) > 0,
    ).map((reason) => `${reason} ${p.reasons[reason] ?? 0}`);
    return parts.length > 0 ? ` (${parts.join(', ')})` : '';
  };
  const parts = [
    `pool ${p.pool} ${p.subnet}: kept ${p.kept}${reasons('kept')}, ` +
      `${dryRun ? 'would free' : 'freed'} ${p.freed}${reasons('freed')}, ` +
      `skipped ${p.skipped}${reasons('skipped')}`,
  ];
  if (p.membership) {
    parts.push(membershipText(p.membership, p.networks, dryRun));
  }
  const outcome = poolOutcomeText(p, dryRun);
  if (outcome) {
    parts.push(outcome);
  }
  return parts.join('; ');
}

function networksText(networks: string[]): string {
  if (networks.length === 0) {
    return 'no local network';
  }
  return `${networks.length === 1 ? 'network' : 'networks'} ${networks.join(', ')}`;
}

function membershipText(m: MembershipOutcome, networks: string[], dryRun: boolean): string {
  const whose = `membership of ${m.node}`;
  if (m.result === 'kept') {
    return m.reason === 'in-use'
      ? `${whose} kept (refs ${m.refs}, ${networksText(networks)})`
      : `${whose} kept (refs ${m.refs}; ${networksText(networks)} of another IPAM driver overlaps)`;
  }
  if (m.result === 'refs-set') {
    return `${whose} refs ${dryRun ? 'would be set ' : ''}${m.from} -> ${m.to} (${networksText(networks)})`;
  }
  if (m.result === 'deleted') {
    const why = m.reason === 'no-local-network' ? ' (no local network uses the pool)' : '';
    return `${whose} ${dryRun ? 'would be deleted' : 'deleted'}${why}`;
  }
  if (m.result === 'skipped') {
    return `${whose} skipped (${m.reason === 'new' ? 'changed after the pass began' : 'changed during the pass'})`;
  }
  return `${m.node} is not a member, yet ${networksText(networks)} uses the pool`;
}

function poolOutcomeText(p: PoolReport, dryRun: boolean): string | undefined {
  const o = p.outcome;
  if (o.result === 'deleted') {
    return `pool ${dryRun ? 'would be deleted' : 'deleted'} (no member left)`;
  }
  const kept: Record<typeof o.reason, string | undefined> = {
    'has-members': undefined,
    'used-locally': `pool kept: no member left, but ${networksText(p.networks)} uses it`,
    changed: 'pool kept (joined or deleted by another node during the pass)',
    'not-forgotten':
      'pool kept: no member, but the forgotten node was none (a cleanup pass deletes it)',
    invalid: 'pool kept: its subnet is invalid',
  };
  return kept[o.reason];
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

function summaryLine(r: CleanupReport): string {
  const t = r.totals;
  const head =
    r.mode === 'pass'
      ? `cleanup of node ${r.node}${r.driver ? ` (driver ${r.driver})` : ''}`
      : `forget node ${r.node}`;
  const at = r.revision ? ` at etcd revision ${r.revision}` : '';
  const body =
    `${plural(r.pools.length, 'pool', 'pools')}; kept ${t.kept}, ` +
    `${r.dryRun ? 'would free' : 'freed'} ${t.freed}, skipped ${t.skipped}; ` +
    `${plural(t.membershipsDeleted, 'membership', 'memberships')} ${r.dryRun ? 'would be deleted' : 'deleted'}, ` +
    `${plural(t.refsSet, 'reference count', 'reference counts')} ${r.dryRun ? 'would be set' : 'set'}, ` +
    `${plural(t.poolsDeleted, 'pool', 'pools')} ${r.dryRun ? 'would be deleted' : 'deleted'}`;
  const status = r.ok
    ? r.dryRun
      ? 'dry run, nothing changed'
      : 'done'
    : `FAILED: ${r.error ?? ''}`;
  return `${head}${at}: ${body} (${status})`;
}
