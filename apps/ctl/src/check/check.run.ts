import { renderCheckJson, renderCheckText } from '../../../cleanup/src/check.js';
import { CheckModule } from '../../../cleanup/src/check.module.js';
import { CheckService } from '../../../cleanup/src/check.service.js';
import { EXIT, type CtlRun } from '../command.js';
import { runInApp } from '../ctl-app.js';

/** The cleanup's consistency check (apps/cleanup/src/check.ts), with the ctl's exit statuses. */
export function runCheck({ json }: { json: boolean }, run: CtlRun): Promise<number> {
  return runInApp(
    run,
    (env) => CheckModule.forRoot(env),
    async ({ app, out, complain }) => {
      const report = await app.get(CheckService).check();
      (json ? [renderCheckJson(report)] : renderCheckText(report)).forEach(out);
      if (!report.ok) {
        complain(`${report.violations.length} violation(s) of the store's invariants`);
        return EXIT.problems;
      }
      return EXIT.ok;
    },
  );
}
