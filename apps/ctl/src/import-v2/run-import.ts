import { CheckService } from '../../../cleanup/src/check.service.js';
import { EXIT, type CtlRun } from '../command.js';
import { runInApp } from '../ctl-app.js';
import { CtlModule } from '../ctl.module.js';
import type { ImportOptions } from './import-v2.command.js';
import { V2Importer, type PoolOutcome } from './importer.js';
import { planImport } from './plan.js';
import { importOk, renderImportText, type ImportReport } from './report.js';
import { readV2Keyspace, V2ReadError } from './v2-keyspace.js';

/** Reads the 0.2 keyspace, plans, writes (unless a dry run), checks and prints the report. */
export function runImport(options: ImportOptions, run: CtlRun): Promise<number> {
  return runInApp(
    run,
    // etcd through the store, the importer and the consistency check; nothing of Docker.
    (env) => CtlModule.forRoot([V2Importer, CheckService], env),
    async ({ app, config, out, complain }) => {
      let entries;
      try {
        entries = await readV2Keyspace(options.from, config.etcd.waitTimeoutSeconds * 1000);
      } catch (e) {
        if (e instanceof V2ReadError) {
          complain(`${e.message}; nothing was written`);
          return EXIT.problems;
        }
        throw e;
      }
      const plan = planImport(entries);
      const importer = app.get(V2Importer);
      const pools: PoolOutcome[] = [];
      for (const pool of plan.pools) {
        // ETCD_WAIT_TIMEOUT per pool: a fleet's import takes longer than one request.
        pools.push(await importer.importPool(pool, options.dryRun, importer.deadline()));
      }
      const check = options.dryRun ? undefined : await app.get(CheckService).run();
      const partial: Omit<ImportReport, 'ok'> = {
        mode: 'import-v2',
        dryRun: options.dryRun,
        from: options.from.origin,
        prefix: config.etcd.prefix,
        pools,
        skipped: plan.skipped,
        ...(check ? { check } : {}),
      };
      const report: ImportReport = { ...partial, ok: importOk(partial) };
      if (options.json) {
        out(JSON.stringify(report));
      } else {
        renderImportText(report).forEach(out);
        const nodes = [...new Set(plan.pools.flatMap((p) => p.members))].sort();
        if (nodes.length > 0) {
          out(
            `note: start the new plugin on each of these hosts with the NODE_ID it had under ` +
              `0.2, or the addresses imported for it are never released: ${nodes.join(', ')}`,
          );
        }
      }
      return report.ok ? EXIT.ok : EXIT.problems;
    },
  );
}
