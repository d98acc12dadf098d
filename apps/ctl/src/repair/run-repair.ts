import type { DynamicModule, INestApplicationContext } from '@nestjs/common';

import type { IpamConfig } from '#app/config';
import { CleanupStore } from '#app/store';

import {
  DOCKER_NETWORKS,
  DockerodeNetworks,
  DockerUnavailable,
  type DockerNetworks,
} from '../../../cleanup/src/docker/docker-networks.js';
import { driverNames } from '../../../cleanup/src/docker/driver-names.js';
import { EXIT, type CtlRun, type Env } from '../command.js';
import { runInApp } from '../ctl-app.js';
import { CtlModule } from '../ctl.module.js';
import type { RepairOptions } from './repair.command.js';
import { planRepair } from './repair-plan.js';
import { Repairer, type RepairOutcome } from './repairer.js';

/** etcd through the store, and the local Docker daemon (DOCKER_HOST). */
export const repairModule = (env?: Env): DynamicModule =>
  CtlModule.forRoot([Repairer, { provide: DOCKER_NETWORKS, useClass: DockerodeNetworks }], env);

export interface RepairReport {
  mode: 'repair';
  dryRun: boolean;
  node: string;
  drivers: string[];
  pools: RepairOutcome[];
  problems: string[];
  ok: boolean;
}

function poolLine(p: RepairOutcome, dryRun: boolean): string {
  const would = dryRun ? 'would be ' : '';
  const head = `pool ${p.id} ${p.subnet} (${p.networks.join(', ')})`;
  if (p.pool === 'conflict') {
    return `${head}: CONFLICT`;
  }
  const state = (s: 'created' | 'present' | 'none'): string =>
    s === 'created' ? `${would}created` : s === 'present' ? 'present' : 'none';
  return (
    `${head}: ${state(p.pool)}; membership ${state(p.membership)}; addresses ` +
    `${p.addresses.created} ${would}new, ${p.addresses.present} present`
  );
}

export function renderRepairText(r: RepairReport): string[] {
  const lines = r.pools.flatMap((p) => [
    poolLine(p, r.dryRun),
    ...p.conflicts.map((c) => `conflict ${c}`),
  ]);
  lines.push(...r.problems.map((p) => `cannot repair ${p}`));
  const conflicts = r.pools.reduce((n, p) => n + p.conflicts.length, 0);
  const count = (k: RepairOutcome['pool']): number => r.pools.filter((p) => p.pool === k).length;
  lines.push(
    `repair of node ${r.node} (driver ${r.drivers.join(', ')}${r.dryRun ? ', dry run: nothing written' : ''}): ` +
      `${r.pools.length} pool(s) in use here, ${count('created')} ${r.dryRun ? 'to create' : 'created'}, ` +
      `${conflicts} conflict(s), ${r.problems.length} not repairable`,
  );
  return lines;
}

/**
 * Reads this host's Docker and etcd, writes what is missing (unless a dry run) and answers the
 * report. Docker unreachable throws DockerUnavailable: nothing was written.
 */
export async function repair(
  app: INestApplicationContext,
  config: IpamConfig,
  dryRun: boolean,
): Promise<RepairReport> {
  const docker = app.get<DockerNetworks>(DOCKER_NETWORKS);
  const networks = await docker.list();
  const drivers = driverNames(config.driverName, await docker.plugins(), networks);
  const lists = app.get<CleanupStore>(CleanupStore);
  const { pools } = await lists.listPools(lists.deadline());
  const plan = planRepair(networks, drivers, pools, config.nodeId);
  const repairer = app.get<Repairer>(Repairer);
  const outcomes: RepairOutcome[] = [];
  for (const pool of plan.pools) {
    outcomes.push(await repairer.repairPool(pool, config.nodeId, dryRun));
  }
  return {
    mode: 'repair',
    dryRun,
    node: config.nodeId,
    drivers,
    pools: outcomes,
    problems: plan.problems,
    ok: plan.problems.length === 0 && outcomes.every((o) => o.conflicts.length === 0),
  };
}

/** `repair` as a command: the report on stdout, the exit status. */
export function runRepair(options: RepairOptions, run: CtlRun): Promise<number> {
  return runInApp(run, repairModule, async ({ app, config, out, complain }) => {
    let report: RepairReport;
    try {
      report = await repair(app, config, options.dryRun);
    } catch (e) {
      if (e instanceof DockerUnavailable) {
        complain(`${e.message}; nothing was written`);
        return EXIT.problems;
      }
      throw e;
    }
    if (options.json) {
      out(JSON.stringify(report));
    } else {
      renderRepairText(report).forEach(out);
    }
    return report.ok ? EXIT.ok : EXIT.problems;
  });
}
