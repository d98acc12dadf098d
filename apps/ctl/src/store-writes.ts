import { Prefix } from '#app/net';
import {
  MAX_RESERVE_BATCH,
  newNonce,
  type AddressRecord,
  type AllocationStore,
  type CleanupStore,
  type Deadline,
  type PoolRecord,
  type StoredAddress,
  type StoredPool,
  type StoredSubnet,
} from '#app/store';

// The create-if-absent writes of `import-v2` and `repair`, through the plugin's own transactions
// (libs/store/README.md, "Transactions"): a record that exists is never overwritten.

/** How many attempts a pool's create gets while other subnets are being written meanwhile. */
const CREATE_ATTEMPTS = 5;

/** A pool to make sure of: the record the plugin would have written, and the creating node. */
export interface WantedPool {
  id: string;
  record: PoolRecord;
  subnet: Prefix;
  /** the node whose membership (and gateway) createPool writes */
  node: string;
}

export type EnsuredPool =
  | { kind: 'created' | 'present'; pool: StoredPool }
  /** a pool of that name with another subnet, range or gateway: kept */
  | { kind: 'differs'; pool: StoredPool }
  /** no such pool, and its subnet overlaps this reserved one: not created */
  | { kind: 'overlaps'; other: StoredSubnet }
  /** a dry run: it would be created */
  | { kind: 'absent' };

const sameShape = (a: PoolRecord, b: PoolRecord): boolean =>
  a.subnet === b.subnet && a.gateway === b.gateway && (a.iprange ?? '') === (b.iprange ?? '');

/** `subnet 10.81.0.0/16 range 10.81.128.0/17` */
export const poolShape = (r: PoolRecord): string =>
  `subnet ${r.subnet}${r.iprange ? ` range ${r.iprange}` : ''}`;

/**
 * The pool as wanted: present already, or created with createPool (its overlap fence and
 * create-if-absent of pool and subnet key), or why not. Reads only when `dryRun`.
 */
export async function ensurePool(
  store: AllocationStore,
  p: WantedPool,
  dryRun: boolean,
  deadline: Deadline,
): Promise<EnsuredPool> {
  for (let attempt = 1; ; attempt++) {
    const existing = await store.getPool(p.id, deadline);
    if (existing) {
      return { kind: sameShape(existing.record, p.record) ? 'present' : 'differs', pool: existing };
    }
    const { subnets, revision } = await store.listSubnets(deadline);
    const other = subnets.find((s) => Prefix.tryParse(s.record.address)?.overlaps(p.subnet));
    if (other) {
      return { kind: 'overlaps', other };
    }
    if (dryRun) {
      return { kind: 'absent' };
    }
    const gateway = p.subnet.firstHost()!.toString();
    const result = await store.createPool(
      {
        id: p.id,
        record: p.record,
        network: p.subnet.network().toString(),
        gatewayIp: gateway,
        node: p.node,
      },
      revision,
      newNonce(),
      deadline,
    );
    if (result.kind === 'created') {
      return { kind: 'created', pool: result.pool };
    }
    if (result.kind === 'subnets-changed' && attempt >= CREATE_ATTEMPTS) {
      throw new Error(
        `pool ${p.id}: the subnets in etcd kept changing during ${CREATE_ATTEMPTS} attempts to ` +
          'create it; run the command again',
      );
    }
    // exists (created meanwhile) or subnets changed: read again
  }
}

/**
 * Creates `node`'s membership with `refs` references if it has none; an existing membership is
 * left as it is. `written` references are ours already (createPool wrote the first one): the
 * rest are added to it. Answers 'created', 'present' or 'pool-gone'.
 */
export async function joinIfAbsent(
  store: AllocationStore,
  pool: StoredPool,
  node: string,
  refs: number,
  deadline: Deadline,
  written = 0,
): Promise<'created' | 'present' | 'pool-gone'> {
  let created = written > 0;
  for (let joined = written; joined < refs;) {
    const now = await store.getPoolAndMember(pool.id, node, deadline);
    if (!now.pool || now.pool.createRevision !== pool.createRevision) {
      return 'pool-gone';
    }
    if (now.member && !created) {
      return 'present';
    }
    const result = await store.joinPool(pool, node, now.member, newNonce(), deadline);
    if (result.kind === 'pool-gone') {
      return 'pool-gone';
    }
    if (result.kind === 'joined') {
      created = true;
      joined++;
    }
  }
  return 'created';
}

/** What ensureAddresses wrote (or, in a dry run, would write) and found. */
export interface EnsuredAddresses {
  created: number;
  present: number;
  /** one sentence each, from `judge` */
  conflicts: string[];
}

/**
 * Reserves every wanted address of `pool` that etcd does not hold (reserveAddresses,
 * MAX_RESERVE_BATCH per transaction; a dry run, or a pool still to be created, only counts them).
 * An address etcd holds, listed first or taken meanwhile, is `judge`d: undefined when it is the
 * one wanted (present), else the conflict to report. It is never overwritten.
 */
export async function ensureAddresses<A extends { ip: string; record: AddressRecord }>(
  w: {
    store: AllocationStore;
    lists: CleanupStore;
    poolId: string;
    pool: StoredPool | undefined;
    dryRun: boolean;
    deadline: Deadline;
  },
  wanted: readonly A[],
  judge: (a: A, now: StoredAddress) => string | undefined,
): Promise<EnsuredAddresses> {
  const out: EnsuredAddresses = { created: 0, present: 0, conflicts: [] };
  const found = (a: A, now: StoredAddress): void => {
    const conflict = judge(a, now);
    if (conflict === undefined) {
      out.present++;
    } else {
      out.conflicts.push(conflict);
    }
  };
  const { pool, deadline } = w;
  const held = new Map<string, StoredAddress>(
    pool ? (await w.lists.listAddresses(w.poolId, deadline)).addresses.map((a) => [a.ip, a]) : [],
  );
  const missing = wanted.filter((a) => {
    const now = held.get(a.ip);
    if (now) {
      found(a, now);
    }
    return !now;
  });
  if (w.dryRun || !pool) {
    out.created += missing.length;
    return out;
  }
  for (let i = 0; i < missing.length; i += MAX_RESERVE_BATCH) {
    const batch = missing.slice(i, i + MAX_RESERVE_BATCH);
    const results = await w.store.reserveAddresses(
      pool,
      batch.map((a) => ({ ip: a.ip, record: a.record, nonce: newNonce() })),
      deadline,
    );
    results.forEach((r, j) => {
      const a = batch[j]!;
      if (r.kind === 'reserved') {
        out.created++;
      } else if (r.kind === 'taken') {
        found(a, r.existing);
      } else {
        out.conflicts.push(`address ${a.ip} of pool ${w.poolId}: the pool was deleted meanwhile`);
      }
    });
  }
  return out;
}
