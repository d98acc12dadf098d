import { Injectable, Logger } from '@nestjs/common';

import {
  AllocationStore,
  CleanupStore,
  type Deadline,
  type StoredAddress,
  type StoredPool,
} from '#app/store';

import { ensurePool, joinIfAbsent, poolShape, reserveAll } from '../store-writes.js';
import type { RepairAddress, RepairPool } from './repair-plan.js';

/** What happened (or, in a dry run, would happen) to one pool this host's Docker uses. */
export interface RepairOutcome {
  id: string;
  subnet: string;
  networks: string[];
  pool: 'created' | 'present' | 'conflict';
  membership: 'created' | 'present' | 'none';
  addresses: { created: number; present: number };
  /** One sentence each: what etcd holds and Docker here disagrees with, kept as it is. */
  conflicts: string[];
}

/**
 * Registers again what this host's Docker uses (repair-plan.ts), create-if-absent through the
 * plugin's transactions (store-writes.ts): the pool, this node's membership with one reference
 * per local network, every address. What etcd holds and differs is reported, never overwritten.
 */
@Injectable()
export class Repairer {
  private readonly log = new Logger('Repair');

  constructor(
    private readonly store: AllocationStore,
    private readonly lists: CleanupStore,
  ) {}

  async repairPool(p: RepairPool, node: string, dryRun: boolean): Promise<RepairOutcome> {
    const deadline = this.store.deadline();
    const out: RepairOutcome = {
      id: p.id,
      subnet: p.record.subnet,
      networks: p.networks,
      pool: 'present',
      membership: 'none',
      addresses: { created: 0, present: 0 },
      conflicts: [],
    };
    const ensured = await ensurePool(this.store, { ...p, node }, dryRun, deadline);
    const on = `network${p.networks.length > 1 ? 's' : ''} ${p.networks.join(', ')}`;
    if (ensured.kind === 'differs' || ensured.kind === 'overlaps') {
      out.pool = 'conflict';
      out.conflicts.push(
        ensured.kind === 'differs'
          ? `pool ${p.id}: etcd holds it with ${poolShape(ensured.pool.record)}, this host's ${on} ` +
              `with ${poolShape(p.record)}; etcd's is kept (remove and create the network here)`
          : `pool ${p.id}: etcd no longer holds it, and its subnet ${p.record.subnet} (${on}) ` +
              `overlaps ${ensured.other.record.address} of pool ${ensured.other.record.pool}; not created`,
      );
      return out;
    }
    out.pool = ensured.kind === 'present' ? 'present' : 'created';
    const pool = ensured.kind === 'absent' ? undefined : ensured.pool;
    if (ensured.kind === 'created') {
      this.log.log(`created pool ${p.id} with ${poolShape(p.record)} for ${on}`);
    }
    const refs = p.networks.length;
    if (!pool) {
      out.membership = 'created';
    } else {
      const joined = await joinIfAbsent(
        this.store,
        pool,
        node,
        refs,
        deadline,
        ensured.kind === 'created' ? 1 : 0,
      );
      out.membership = joined === 'pool-gone' ? 'none' : joined;
      if (joined === 'pool-gone') {
        out.conflicts.push(`pool ${p.id}: deleted while this node joined it; run repair again`);
        return out;
      }
    }
    await this.ensureAddresses(p, pool, dryRun, deadline, out);
    return out;
  }

  private async ensureAddresses(
    p: RepairPool,
    pool: StoredPool | undefined,
    dryRun: boolean,
    deadline: Deadline,
    out: RepairOutcome,
  ): Promise<void> {
    const held = new Map<string, StoredAddress>(
      pool ? (await this.lists.listAddresses(p.id, deadline)).addresses.map((a) => [a.ip, a]) : [],
    );
    const missing = p.addresses.filter((a) => {
      const now = held.get(a.ip);
      if (now) {
        this.compare(p.id, a, now, out);
      }
      return !now;
    });
    if (dryRun || !pool) {
      out.addresses.created += missing.length;
      return;
    }
    const results = await reserveAll(this.store, pool, missing, deadline);
    results.forEach((r, i) => {
      const a = missing[i]!;
      if (r.kind === 'reserved') {
        out.addresses.created++;
      } else if (r.kind === 'taken') {
        this.compare(p.id, a, r.existing, out);
      } else {
        out.conflicts.push(`address ${a.ip} of pool ${p.id}: the pool was deleted meanwhile`);
      }
    });
  }

  /** An address etcd holds: this node's is `present`; another node's is a conflict. */
  private compare(poolId: string, a: RepairAddress, now: StoredAddress, out: RepairOutcome): void {
    if (now.record.node === a.record.node) {
      out.addresses.present++;
      return;
    }
    out.conflicts.push(
      `address ${a.ip} of pool ${poolId}: this host's Docker uses it (${a.what}), etcd holds it ` +
        `for node ${now.record.node} (${now.record.type ?? 'endpoint'}); etcd's is kept`,
    );
  }
}
