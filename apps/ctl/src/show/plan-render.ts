import { ago, bar, percent, table } from '../table.js';
import type { NodeRow, PlanView, PoolRow } from './plan-view.js';

/**
 * `show` as text (aligned tables with bars, for a terminal) and as JSON (the same data for
 * scripts: stable keys, counts as decimal strings since a /64 holds more than 2^53 addresses;
 * docs/ctl.md describes the shape).
 */

export function renderPlanText(view: PlanView, now: Date): string[] {
  const lines = [`address plan under etcd prefix ${view.prefix} at revision ${view.revision}`, ''];
  if (view.pools.length === 0) {
    lines.push('no pools');
  } else {
    lines.push(...poolTable(view.pools));
  }
  if (view.supernets.length > 0) {
    lines.push(
      '',
      ...table(
        [
          { title: 'SUPERNET' },
          { title: 'FAMILY' },
          { title: 'SUBNETS OF', right: true },
          { title: 'SUBNETS', right: true },
          { title: 'CARVED', right: true },
          { title: 'FREE', right: true },
        ],
        view.supernets.map((s) => [
          s.supernet,
          s.family,
          `/${s.subnetLength}`,
          s.subnets.toString(),
          s.carved.toString(),
          s.free.toString(),
        ]),
      ),
    );
  }
  if (view.nodes.length > 0) {
    lines.push('', ...nodeTable(view.nodes, now));
  }
  return lines;
}

function poolTable(pools: readonly PoolRow[]): string[] {
  return table(
    [
      { title: 'POOL' },
      { title: 'FAMILY' },
      { title: 'SUBNET' },
      { title: 'IP RANGE' },
      { title: 'GATEWAY' },
      { title: 'NODES (REFS)' },
      { title: 'ALLOCATED', right: true },
      { title: 'SIZE', right: true },
      { title: 'FREE', right: true },
      { title: 'USE' },
      { title: '', right: true },
    ],
    pools.map((p) => [
      p.id,
      p.family,
      p.subnet,
      p.ipRange ?? '-',
      p.gateway ?? '-',
      p.nodes.length === 0 ? '(none)' : p.nodes.map((n) => `${n.node}(${n.refs})`).join(' '),
      p.allocated.toString(),
      p.size.toString(),
      p.free.toString(),
      bar(p.allocated, p.size),
      percent(p.allocated, p.size),
    ]),
  );
}

function nodeTable(nodes: readonly NodeRow[], now: Date): string[] {
  return table(
    [
      { title: 'NODE' },
      { title: 'POOLS', right: true },
      { title: 'PLUGIN' },
      { title: 'LAST CLEANUP PASS' },
      { title: 'AGO', right: true },
      { title: 'FREED', right: true },
      { title: 'KEPT', right: true },
      { title: 'POOLS DELETED', right: true },
    ],
    nodes.map((n) => {
      const pass = n.lastCleanupPass;
      return [
        n.node,
        String(n.pools),
        n.plugins.length === 0
          ? 'not running'
          : n.plugins.map((p) => `${p.host ?? '?'} (${p.version ?? '?'})`).join(', '),
        pass?.time ?? 'never',
        ago(pass?.time, now),
        count(pass?.freed),
        count(pass?.kept),
        count(pass?.poolsDeleted),
      ];
    }),
  );
}

const count = (n: number | undefined): string => (n === undefined ? '-' : String(n));

/** The JSON of `show --json`: one object, keys in a fixed order. */
export function renderPlanJson(view: PlanView): string {
  return JSON.stringify({
    prefix: view.prefix,
    revision: view.revision,
    pools: view.pools.map((p) => ({
      id: p.id,
      family: p.family,
      subnet: p.subnet,
      ipRange: p.ipRange ?? null,
      gateway: p.gateway ?? null,
      nodes: p.nodes,
      allocated: p.allocated.toString(),
      size: p.size.toString(),
      free: p.free.toString(),
    })),
    supernets: view.supernets.map((s) => ({
      family: s.family,
      supernet: s.supernet,
      subnetLength: s.subnetLength,
      subnets: s.subnets.toString(),
      carved: s.carved.toString(),
      free: s.free.toString(),
    })),
    nodes: view.nodes.map((n) => ({
      node: n.node,
      pools: n.pools,
      plugins: n.plugins,
      lastCleanupPass: n.lastCleanupPass ?? null,
    })),
  });
}
