import { Injectable, Logger } from '@nestjs/common';

import { CleanupStore, StoreUnavailable } from '#app/store';

import { checkStore, emptyCheckReport, type CheckReport } from './check.js';

/**
 * `--check`: reads the whole store under ETCD_PREFIX at one revision and verifies its
 * invariants (check.ts). Read-only, and it never asks Docker.
 */
@Injectable()
export class CheckService {
  private readonly log = new Logger('Check');

  constructor(private readonly store: CleanupStore) {}

  /** Never throws: a store that cannot be read is reported (`ok: false`, `error`). */
  async run(): Promise<CheckReport> {
    try {
      return await this.check();
    } catch (e) {
      const report = emptyCheckReport(this.store.keys.root);
      const message = e instanceof Error ? e.message : String(e);
      if (!(e instanceof StoreUnavailable)) {
        this.log.error(`check failed: ${message}`, e instanceof Error ? e.stack : undefined);
      }
      return { ...report, error: message };
    }
  }

  /** The check; throws StoreUnavailable when etcd does not answer (`kontena-ipam-ctl check`: 3). */
  async check(): Promise<CheckReport> {
    const report = emptyCheckReport(this.store.keys.root);
    const { entries, revision } = await this.store.snapshot(this.store.deadline());
    this.log.log(`read ${entries.length} key(s) under ${report.prefix} at revision ${revision}`);
    const result = checkStore(entries);
    return { ...report, ...result, revision, ok: result.violations.length === 0 };
  }
}
