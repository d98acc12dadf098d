import { Injectable } from '@nestjs/common';

import { CleanupStore } from './cleanup-store.js';
import { EtcdConnection, type Deadline } from './etcd-connection.js';
import type { KeyLayout } from './keys.js';
import { toAddress, toMember, toPool, toRegistration, toSubnet } from './kv-records.js';
import {
  decodeRecord,
  type CleanupPassRecord,
  type StoredAddress,
  type StoredPool,
  type StoredRegistration,
  type StoredSubnet,
} from './records.js';

/** One node's membership of a pool, as the plan shows it. */
export interface PlanMember {
  pool: string;
  node: string;
  refs: number;
}

/** A node's last successful cleanup pass; a value that is not one is partial or empty. */
export interface PlanCleanupPass {
  node: string;
  record: Partial<CleanupPassRecord>;
}

/** The whole address plan, every part read at ONE revision. */
export interface StoredPlan {
  revision: string;
  pools: StoredPool[];
  subnets: StoredSubnet[];
  members: PlanMember[];
  /** address keys per pool id (gateways and aux reservations included) */
  addressCounts: Map<string, number>;
  cleanupPasses: PlanCleanupPass[];
  registrations: StoredRegistration[];
  /** the cluster's IPv6 supernet (`supernet6`), when a node chose one */
  supernet6?: string;
}

/**
 * The read-only views of `kontena-ipam-ctl` (show): the plan of the whole cluster at one
 * revision, and one pool's addresses page by page. Writes nothing.
 */
@Injectable()
export class PlanStore {
  readonly keys: KeyLayout;

  constructor(
    private readonly etcd: EtcdConnection,
    private readonly cleanup: CleanupStore,
  ) {
    this.keys = etcd.keys;
  }

  /** The deadline of a request that starts now (`ETCD_WAIT_TIMEOUT`). */
  deadline(): Deadline {
    return this.etcd.deadline();
  }

  /**
   * Pools, subnets, memberships, address counts (keys only: a /16 full of addresses is read
   * without its values), cleanup passes and registrations, all pinned to the pools' revision.
   */
  async readPlan(deadline: Deadline): Promise<StoredPlan> {
    const { pools, revision } = await this.readPools(deadline);
    const at = { keysOnly: false, revision };
    const parse = (kv: { key: Buffer }) => this.keys.parse(kv.key.toString());
    const [subnets, members, counted, passes, registrations, supernet6] = await Promise.all([
      this.etcd.pagedRange(this.keys.subnetsPrefix, deadline, at, (kv) => toSubnet(this.keys, kv)),
      this.etcd.pagedRange(this.keys.poolNodesRoot, deadline, at, (kv) => {
        const key = parse(kv);
        return key.kind === 'member'
          ? { pool: key.pool, node: key.node, refs: toMember(kv).record.refs }
          : undefined;
      }),
      this.etcd.pagedRange(this.keys.addressesRoot, deadline, { ...at, keysOnly: true }, (kv) => {
        const key = parse(kv);
        return key.kind === 'address' ? key.pool : undefined;
      }),
      this.etcd.pagedRange(this.keys.cleanupPassesRoot, deadline, at, (kv) => {
        const key = parse(kv);
        return key.kind === 'cleanup-pass'
          ? { node: key.node, record: decodeRecord<Partial<CleanupPassRecord>>(kv.value) ?? {} }
          : undefined;
      }),
      this.etcd.pagedRange(this.keys.nodesRoot, deadline, at, (kv) =>
        toRegistration(this.keys, kv),
      ),
      this.etcd.pagedRange(this.keys.supernet6, deadline, at, (kv) => {
        const record =
          parse(kv).kind === 'supernet6'
            ? decodeRecord<{ supernet?: unknown }>(kv.value)
            : undefined;
        return typeof record?.supernet === 'string' ? record.supernet : undefined;
      }),
    ]);
    const addressCounts = new Map<string, number>();
    for (const pool of counted.items) {
      addressCounts.set(pool, (addressCounts.get(pool) ?? 0) + 1);
    }
    return {
      revision,
      pools,
      subnets: subnets.items,
      members: members.items,
      addressCounts,
      cleanupPasses: passes.items,
      registrations: registrations.items,
      ...(supernet6.items[0] !== undefined && { supernet6: supernet6.items[0] }),
    };
  }

  /** Every pool, in key order, and the revision of that read (the cleanup's list). */
  readPools(deadline: Deadline): Promise<{ pools: StoredPool[]; revision: string }> {
    return this.cleanup.listPools(deadline);
  }

  /** One pool (undefined when it does not exist) and the revision of that read. */
  async readPool(
    poolId: string,
    deadline: Deadline,
  ): Promise<{ pool: StoredPool | undefined; revision: string }> {
    // A range, not a get, for its revision; `pools/blue` also lists `pools/blue2`: dropped.
    const { items, revision } = await this.etcd.pagedRange(
      this.keys.pool(poolId),
      deadline,
      { keysOnly: false },
      (kv) => {
        const key = this.keys.parse(kv.key.toString());
        return key.kind === 'pool' && key.id === poolId ? toPool(poolId, kv) : undefined;
      },
    );
    return { pool: items[0], revision };
  }

  /** One address of a pool, with its revisions, or undefined when it is free. */
  async readAddress(
    poolId: string,
    ip: string,
    deadline: Deadline,
  ): Promise<StoredAddress | undefined> {
    const kv = await this.etcd.get(this.keys.address(poolId, ip), deadline);
    return kv ? toAddress(ip, kv) : undefined;
  }

  /**
   * The addresses of one pool in key order, a page (`pageSize` keys) at a time, every page at
   * `revision` (the revision the pool was read at, say): a /16 with 60,000 addresses is printed
   * as it is read, never held whole.
   */
  async *addressPages(
    poolId: string,
    deadline: Deadline,
    options: { revision?: string; pageSize?: number } = {},
  ): AsyncGenerator<{ addresses: StoredAddress[]; revision: string }> {
    const pages = this.etcd.rangePages(this.keys.addressesOf(poolId), deadline, {
      keysOnly: false,
      ...options,
    });
    for await (const { kvs, revision } of pages) {
      const addresses: StoredAddress[] = [];
      for (const kv of kvs) {
        const key = this.keys.parse(kv.key.toString());
        if (key.kind === 'address' && key.pool === poolId) {
          addresses.push(toAddress(key.ip, kv));
        }
      }
      yield { addresses, revision };
    }
  }
}
