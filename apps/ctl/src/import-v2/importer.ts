import { Injectable, Logger } from '@nestjs/common';

import {
  AllocationStore,
  CleanupStore,
  type Deadline,
  type StoredAddress,
  type StoredPool,
} from '#app/store';

import { ensureAddresses, ensurePool, joinIfAbsent, poolShape } from '../store-writes.js';
import type { ImportAddress, ImportPool } from './plan.js';

/** What happened (or, in a dry run, would happen) to one pool and what it holds. */
export interface PoolOutcome {
  id: string;
  subnet: string;
  /** `present`: v3 holds the same pool already (a rerun); `conflict`: see `conflicts` */
  pool: 'created' | 'present' | 'conflict';
  members: { created: number; present: number };
  addresses: { created: number; present: number };
  /** One sentence each: a v3 record that differs, kept as it is. */
  conflicts: string[];
}

/**
 * Writes one planned pool (plan.ts) into the v3 store through the plugin's own transactions:
 * `createPool` (the overlap fence and create-if-absent of the pool and its subnet), `joinPool`
 * for a membership that does not exist (never a second reference on a rerun), and
 * `reserveAddresses` (create-if-absent per address). A v3 record that exists and differs is
 * reported, never overwritten; one that is the same is `present`. With `dryRun` it only reads.
 */
@Injectable()
export class V2Importer {
  private readonly log = new Logger('ImportV2');

  constructor(
    private readonly store: AllocationStore,
    private readonly lists: CleanupStore,
  ) {}

  deadline(): Deadline {
    return this.store.deadline();
  }

  async importPool(p: ImportPool, dryRun: boolean, deadline: Deadline): Promise<PoolOutcome> {
    const out: PoolOutcome = {
      id: p.id,
      subnet: p.record.subnet,
      pool: 'created',
      members: { created: 0, present: 0 },
      addresses: { created: 0, present: 0 },
      conflicts: [],
    };
    const pool = await this.ensurePool(p, dryRun, deadline, out);
    if (out.pool === 'conflict') {
      return out;
    }
    await this.ensureMembers(p, pool, dryRun, deadline, out);
    const w = { store: this.store, lists: this.lists, poolId: p.id, pool, dryRun, deadline };
    const addresses = await ensureAddresses(w, p.addresses, (a, now) =>
      V2Importer.judge(p.id, a, now),
    );
    out.addresses = { created: addresses.created, present: addresses.present };
    out.conflicts.push(...addresses.conflicts);
    return out;
  }

  /** The v3 pool (undefined in a dry run that would create it); sets `out.pool`. */
  private async ensurePool(
    p: ImportPool,
    dryRun: boolean,
    deadline: Deadline,
    out: PoolOutcome,
  ): Promise<StoredPool | undefined> {
    const wanted = { id: p.id, record: p.record, subnet: p.subnet, node: p.creator };
    const ensured = await ensurePool(this.store, wanted, dryRun, deadline);
    if (ensured.kind === 'created' || ensured.kind === 'present') {
      if (ensured.kind === 'created') {
        this.log.log(`created pool ${p.id} with ${poolShape(p.record)} for node ${p.creator}`);
      }
      out.pool = ensured.kind;
      return ensured.pool;
    }
    if (ensured.kind === 'differs') {
      out.pool = 'conflict';
      out.conflicts.push(
        `pool ${p.id}: v3 holds it with ${poolShape(ensured.pool.record)}, 0.2 with ` +
          `${poolShape(p.record)}; the v3 pool is kept and nothing of the 0.2 one is imported`,
      );
    } else if (ensured.kind === 'overlaps') {
      out.pool = 'conflict';
      out.conflicts.push(
        `pool ${p.id}: subnet ${p.record.subnet} overlaps subnet ${ensured.other.record.address} ` +
          `of pool ${ensured.other.record.pool} in the v3 store; not imported (remove one of ` +
          'the two networks, or import into an empty ETCD_PREFIX)',
      );
    }
    return undefined; // a conflict, or a dry run that would create it
  }

  private async ensureMembers(
    p: ImportPool,
    pool: StoredPool | undefined,
    dryRun: boolean,
    deadline: Deadline,
    out: PoolOutcome,
  ): Promise<void> {
    const created = out.pool === 'created';
    const existing = new Set(
      pool && !created
        ? (await this.lists.listMembers(p.id, deadline)).members.map((m) => m.node)
        : [],
    );
    for (const node of p.members) {
      if (existing.has(node)) {
        out.members.present++;
      } else if ((created && node === p.creator) || dryRun || !pool) {
        out.members.created++; // createPool wrote it, or a dry run would
      } else {
        const joined = await joinIfAbsent(this.store, pool, node, 1, deadline);
        if (joined === 'pool-gone') {
          out.conflicts.push(`pool ${p.id}: deleted while node ${node} joined it; run again`);
        } else {
          out.members[joined]++;
        }
      }
    }
  }

  /** An address v3 holds already: the same owner's is present, another one's a conflict. */
  private static judge(poolId: string, a: ImportAddress, now: StoredAddress): string | undefined {
    return now.record.node === a.record.node
      ? undefined
      : `address ${a.ip} of pool ${poolId}: v3 holds it for node ${now.record.node} ` +
          `(${now.record.type ?? 'endpoint'}), 0.2 for node ${a.record.node}; the v3 one is kept`;
  }
}
