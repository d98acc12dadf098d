import { Injectable, Logger } from '@nestjs/common';

import { Prefix } from '#app/net';
import {
  AllocationStore,
  CleanupStore,
  MAX_RESERVE_BATCH,
  newNonce,
  type Deadline,
  type PoolRecord,
  type StoredAddress,
  type StoredPool,
} from '#app/store';

import type { ImportAddress, ImportPool } from './plan.js';

/** How many attempts a pool's create gets while other subnets are being written meanwhile. */
const CREATE_ATTEMPTS = 5;

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

const sameShape = (a: PoolRecord, b: PoolRecord): boolean =>
  a.subnet === b.subnet && a.gateway === b.gateway && (a.iprange ?? '') === (b.iprange ?? '');

const shape = (r: PoolRecord): string =>
  `subnet ${r.subnet}${r.iprange ? ` range ${r.iprange}` : ''}`;

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
    await this.ensureAddresses(p, pool, dryRun, deadline, out);
    return out;
  }

  /** The v3 pool (undefined in a dry run that would create it); sets `out.pool`. */
  private async ensurePool(
    p: ImportPool,
    dryRun: boolean,
    deadline: Deadline,
    out: PoolOutcome,
  ): Promise<StoredPool | undefined> {
    for (let attempt = 1; ; attempt++) {
      const existing = await this.store.getPool(p.id, deadline);
      if (existing) {
        out.pool = sameShape(existing.record, p.record) ? 'present' : 'conflict';
        if (out.pool === 'conflict') {
          out.conflicts.push(
            `pool ${p.id}: v3 holds it with ${shape(existing.record)}, 0.2 with ` +
              `${shape(p.record)}; the v3 pool is kept and nothing of the 0.2 one is imported`,
          );
        }
        return existing;
      }
      const { subnets, revision } = await this.store.listSubnets(deadline);
      const clash = subnets.find((s) => Prefix.tryParse(s.record.address)?.overlaps(p.subnet));
      if (clash) {
        out.pool = 'conflict';
        out.conflicts.push(
          `pool ${p.id}: subnet ${p.record.subnet} overlaps subnet ${clash.record.address} of ` +
            `pool ${clash.record.pool} in the v3 store; not imported (remove one of the two ` +
            'networks, or import into an empty ETCD_PREFIX)',
        );
        return undefined;
      }
      if (dryRun) {
        return undefined;
      }
      const result = await this.store.createPool(
        {
          id: p.id,
          record: p.record,
          network: p.subnet.network().toString(),
          gatewayIp: p.gatewayIp,
          node: p.creator,
        },
        revision,
        newNonce(),
        deadline,
      );
      if (result.kind === 'created') {
        this.log.log(`created pool ${p.id} with ${shape(p.record)} for node ${p.creator}`);
        return result.pool;
      }
      if (result.kind === 'subnets-changed' && attempt >= CREATE_ATTEMPTS) {
        throw new Error(
          `pool ${p.id}: the v3 subnets kept changing during ${CREATE_ATTEMPTS} attempts ` +
            'to create it; are plugins running? Stop them all and run the import again',
        );
      }
      // exists (created meanwhile) or subnets changed: read again
    }
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
      } else if (created && node === p.creator) {
        out.members.created++; // createPool wrote it
      } else if (dryRun || !pool) {
        out.members.created++;
      } else {
        const joined = await this.store.joinPool(pool, node, undefined, newNonce(), deadline);
        if (joined.kind === 'joined') {
          out.members.created++;
        } else if (joined.kind === 'retry') {
          out.members.present++; // the membership was created meanwhile: it exists, as wanted
        } else {
          out.conflicts.push(`pool ${p.id}: deleted while node ${node} joined it; run again`);
        }
      }
    }
  }

  private async ensureAddresses(
    p: ImportPool,
    pool: StoredPool | undefined,
    dryRun: boolean,
    deadline: Deadline,
    out: PoolOutcome,
  ): Promise<void> {
    const held = new Map<string, StoredAddress>(
      pool ? (await this.lists.listAddresses(p.id, deadline)).addresses.map((a) => [a.ip, a]) : [],
    );
    const wanted: ImportAddress[] = [];
    for (const a of p.addresses) {
      const now = held.get(a.ip);
      if (now) {
        this.compare(p.id, a, now, out);
      } else {
        wanted.push(a);
      }
    }
    if (dryRun || !pool) {
      out.addresses.created += wanted.length;
      return;
    }
    for (let i = 0; i < wanted.length; i += MAX_RESERVE_BATCH) {
      const batch = wanted
        .slice(i, i + MAX_RESERVE_BATCH)
        .map((a) => ({ ...a, nonce: newNonce() }));
      const results = await this.store.reserveAddresses(pool, batch, deadline);
      results.forEach((r, j) => {
        const a = batch[j]!;
        if (r.kind === 'reserved') {
          out.addresses.created++;
        } else if (r.kind === 'taken') {
          this.compare(p.id, a, r.existing, out);
        } else {
          out.conflicts.push(`address ${a.ip} of pool ${p.id}: the pool was deleted meanwhile`);
        }
      });
    }
  }

  /** An address v3 holds already: the same owner is `present`, another one a conflict. */
  private compare(poolId: string, a: ImportAddress, now: StoredAddress, out: PoolOutcome): void {
    if (now.record.node === a.record.node) {
      out.addresses.present++;
      return;
    }
    out.conflicts.push(
      `address ${a.ip} of pool ${poolId}: v3 holds it for node ${now.record.node} ` +
        `(${now.record.type ?? 'endpoint'}), 0.2 for node ${a.record.node}; the v3 one is kept`,
    );
  }
}
