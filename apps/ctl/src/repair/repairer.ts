import { Injectable, Logger } from '@nestjs/common';

import { AllocationStore, CleanupStore, type StoredAddress } from '#app/store';

import { ensureAddresses, ensurePool, joinIfAbsent, poolShape } from '../store-writes.js';
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
    const w = { store: this.store, lists: this.lists, poolId: p.id, pool, dryRun, deadline };
    const addresses = await ensureAddresses(w, p.addresses, (a, now) =>
      Repairer.judge(p.id, a, now),
    );
    out.addresses = { created: addresses.created, present: addresses.present };
    out.conflicts.push(...addresses.conflicts);
    return out;
  }

  /** An address etcd holds: this node's is present, another node's a conflict. */
  private static judge(poolId: string, a: RepairAddress, now: StoredAddress): string | undefined {
    return now.record.node === a.record.node
      ? undefined
      : `address ${a.ip} of pool ${poolId}: this host's Docker uses it (${a.what}), etcd holds ` +
          `it for node ${now.record.node} (${now.record.type ?? 'endpoint'}); etcd's is kept`;
  }
}
