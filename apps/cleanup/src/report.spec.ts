import { describe, expect, it } from 'vitest';

import {
  addressOutcome,
  countAddress,
  emptyReport,
  renderJson,
  renderText,
  type CleanupReport,
  type PoolReport,
} from './report.js';

function poolReport(partial: Partial<PoolReport> & { pool: string }): PoolReport {
  return {
    subnet: '10.80.0.0/24',
    networks: [],
    kept: 0,
    freed: 0,
    skipped: 0,
    reasons: {},
    addresses: [],
    outcome: { result: 'kept', reason: 'has-members' },
    ...partial,
  };
}

function passReport(dryRun: boolean): CleanupReport {
  const report = emptyReport('pass', 'node-a', dryRun);
  report.revision = '42';
  report.driver = 'kontena-ipam';
  const kontena = poolReport({
    pool: 'kontena',
    subnet: '10.81.0.0/16',
    networks: ['kontena'],
    membership: { node: 'node-a', result: 'refs-set', from: 3, to: 1 },
  });
  report.pools.push(kontena);
  for (const [ip, node, type, reason] of [
    ['10.81.0.1', 'node-a', 'gateway', 'gateway'],
    ['10.81.128.2', 'node-a', 'endpoint', 'container'],
    ['10.81.128.3', 'node-a', 'endpoint', 'orphan'],
    ['10.81.128.4', 'node-a', 'endpoint', 'orphan'],
    ['10.81.128.5', 'node-b', 'endpoint', 'other-node'],
  ] as const) {
    countAddress(report, kontena, addressOutcome(ip, node, type, reason));
  }
  report.pools.push(
    poolReport({
      pool: 'local-1',
      membership: { node: 'node-a', result: 'deleted', reason: 'no-local-network' },
      outcome: { result: 'deleted' },
    }),
  );
  report.totals.refsSet = 1;
  report.totals.membershipsDeleted = 1;
  report.totals.poolsDeleted = 1;
  report.warnings.push('something odd');
  return report;
}

describe('renderText', () => {
  it('should print one line per pool with counts and reasons, the warnings, then a summary', () => {
    expect(renderText(passReport(false))).toEqual([
      'pool kontena 10.81.0.0/16: kept 2 (container 1, gateway 1), freed 2 (orphan 2), skipped 1 (other-node 1); ' +
        'membership of node-a refs 3 -> 1 (network kontena)',
      'pool local-1 10.80.0.0/24: kept 0, freed 0, skipped 0; ' +
        'membership of node-a deleted (no local network uses the pool); pool deleted (no member left)',
      'warning: something odd',
      'cleanup of node node-a (driver kontena-ipam) at etcd revision 42: 2 pools; kept 2, freed 2, skipped 1; ' +
        '1 membership deleted, 1 reference count set, 1 pool deleted (done)',
    ]);
  });

  it('should say "would" in a dry run', () => {
    const lines = renderText(passReport(true));
    expect(lines[0]).toContain('would free 2 (orphan 2)');
    expect(lines[0]).toContain('refs would be set 3 -> 1');
    expect(lines[1]).toContain('membership of node-a would be deleted');
    expect(lines[1]).toContain('pool would be deleted (no member left)');
    expect(lines.at(-1)).toContain('(dry run, nothing changed)');
  });

  it('should name the failure in the summary', () => {
    const report = emptyReport('pass', 'node-a', false);
    report.ok = false;
    report.error =
      'Docker is unreachable at unix:///x.sock (ping): connect ENOENT; nothing was deleted';
    expect(renderText(report)).toEqual([
      'cleanup of node node-a: 0 pools; kept 0, freed 0, skipped 0; 0 memberships deleted, ' +
        '0 reference counts set, 0 pools deleted ' +
        '(FAILED: Docker is unreachable at unix:///x.sock (ping): connect ENOENT; nothing was deleted)',
    ]);
  });

  it('should describe --forget-node', () => {
    const report = emptyReport('forget-node', 'old', false);
    report.revision = '7';
    const p = poolReport({
      pool: 'kontena',
      membership: { node: 'old', result: 'deleted', reason: 'forgotten' },
    });
    report.pools.push(p);
    countAddress(report, p, addressOutcome('10.80.0.9', 'old', 'endpoint', 'forgotten'));
    expect(renderText(report)[0]).toBe(
      'pool kontena 10.80.0.0/24: kept 0, freed 1 (forgotten 1), skipped 0; membership of old deleted',
    );
    expect(renderText(report)[1]).toMatch(/^forget node old at etcd revision 7: 1 pool;/);
  });
});

describe('renderJson', () => {
  it('should be the report itself, on one line', () => {
    const report = passReport(false);
    const text = renderJson(report);
    expect(text).not.toContain('\n');
    expect(JSON.parse(text)).toEqual(report);
  });
});
