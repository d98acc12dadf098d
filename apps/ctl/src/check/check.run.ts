import { renderCheckJson, renderCheckText } from '../../../cleanup/src/check.js';
import { CheckModule } from '../../../cleanup/src/check.module.js';
import { CheckService } from '../../../cleanup/src/check.service.js';
import { EXIT } from '../command.js';
import { complain, runInApp } from '../ctl-app.js';

/** The cleanup's consistency check (apps/cleanup/src/check.ts), with the ctl's exit statuses. */
export function runCheck({ json }: { json: boolean }): Promise<number> {
  return runInApp(
    'check',
    () => CheckModule.forRoot(),
    async ({ app }) => {
      const report = await app.get(CheckService).check();
      const text = json ? [renderCheckJson(report)] : renderCheckText(report);
      process.stdout.write(text.map((l) => `${l}\n`).join(''));
      if (!report.ok) {
        complain('check', `${report.violations.length} violation(s) of the store's invariants`);
        return EXIT.problems;
      }
      return EXIT.ok;
    },
  );
}
