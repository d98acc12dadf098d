import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';

import { ipamConfig, type IpamConfig } from '#app/config';
import { Prefix } from '#app/net';
import {
  CleanupStore,
  newNonce,
  MAX_DELETE_BATCH,
  StoreUnavailable,
  subnetKeyName,
  type NodeMember,
  type StoredAddress,
  type StoredPool,
  type StoredRegistration,
} from '#app/store';

import type { CleanupOptions } from './cli.js';
import {
  DOCKER_NETWORKS,
  DockerUnavailable,
  type DockerNetworks,
} from './docker/docker-networks.js';
import { driverNames } from './docker/driver-names.js';
import { describeHolders, forgetConflicts, liveConflicts, passConflicts } from './node-liveness.js';
import {
  classifyAddress,
  classifyForgotten,
  planMembership,
  planPoolDeletion,
  readDockerView,
  type AddressReason,
  type DockerView,
  type MembershipPlan,
  type PoolUse,
} from './plan.js';
import {
  addressOutcome,
  countAddress,
  emptyReport,
  type CleanupReport,
  type PoolReport,
} from './report.js';

/** SIGTERM or SIGINT arrived: stop before the next change. */
export class CleanupInterrupted extends Error {
  override get name(): string {
    return 'CleanupInterrupted';
  }
}

/**
 * A request that makes no sense for this node (--forget-node of its own NODE_ID), or that is not
 * safe now (a NODE_ID another live plugin holds).
 */
export class CleanupRefused extends Error {
  override get name(): string {
    return 'CleanupRefused';
  }
}

/** One run: what it was asked, its stop signal, and the report it fills in. */
interface Run {
  options: CleanupOptions;
  signal: AbortSignal;
  report: CleanupReport;
}

/**
 * One cleanup pass (docs/cleanup.md), or --forget-node. The decisions are the pure functions
 * of plan.ts; every change is one CleanupStore transaction that compares the mod revision read, so
 * a key written since (a container that is starting, a join, a release) is never touched.
 */
@Injectable()
export class CleanupService {
  private readonly log = new Logger('Cleanup');

  constructor(
    private readonly store: CleanupStore,
    @Inject(ipamConfig.KEY) private readonly config: IpamConfig,
    @Inject(DOCKER_NETWORKS) private readonly docker: DockerNetworks,
  ) {}

  /**
   * Runs what the options ask for. Never throws: a failure ends the run and is reported
   * (`ok: false`, `error`) with what was done before it.
   */
  async run(options: CleanupOptions, signal: AbortSignal): Promise<CleanupReport> {
    const forget = options.forgetNode;
    const report = emptyReport(
      forget === undefined ? 'pass' : 'forget-node',
      forget ?? this.config.nodeId,
      options.dryRun,
    );
    const run: Run = { options, signal, report };
    try {
      if (forget === undefined) {
        await this.pass(run);
        await this.recordPass(run);
      } else {
        await this.forget(forget, run);
      }
    } catch (e) {
      report.ok = false;
      report.error = this.describeFailure(e, report);
    }
    return report;
  }

  // ------------------------------------------------------------------------------ the pass

  /**
   * A whole pass that changed what it found (not a dry run, not --pool) is recorded in etcd as
   * this node's last one, for `kontena-ipam-ctl show`. A failure to record it is a warning: the
   * pass itself is done.
   */
  private async recordPass({ options, report }: Run): Promise<void> {
    if (options.dryRun || options.pool !== undefined) {
      return;
    }
    try {
      await this.store.recordPass(
        this.config.nodeId,
        { time: new Date().toISOString(), revision: report.revision ?? '0', ...report.totals },
        this.store.deadline(),
      );
    } catch (e) {
      report.warnings.push(
        `the pass is done, but recording it in etcd for kontena-ipam-ctl show failed: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  private async pass(run: Run): Promise<void> {
    const { options, report, signal } = run;

    // 0. Nobody else holds this NODE_ID: its addresses are this host's alone.
    await this.refuseSharedNodeId(run);

    // 1. R, and whether Docker answers at all (before waiting for nothing).
    const revision = await this.store.currentRevision(this.store.deadline());
    report.revision = revision;
    await this.docker.ping();
    this.log.log(
      `recorded etcd revision ${revision}; waiting ${options.quiesceSeconds} s for containers ` +
        `that are starting to show up in Docker at ${this.docker.where}`,
    );
    // 2. The quiesce: an endpoint shows in Docker only once its container has joined.
    await this.quiesce(options.quiesceSeconds, signal);

    // 3. Docker's view, then etcd's.
    const networks = await this.docker.list();
    const drivers =
      options.driver === undefined
        ? driverNames(this.config.driverName, await this.docker.plugins(), networks)
        : [options.driver];
    const driver = drivers.join(', ');
    report.driver = driver;
    const { pools } = await this.store.listPools(this.store.deadline());
    const view = readDockerView(networks, pools, drivers);
    this.log.log(
      `Docker lists ${view.driverNetworks} network(s) of IPAM driver ${driver} and ` +
        `${view.known.size} address(es) in use; etcd holds ${pools.length} pool(s)`,
    );
    report.warnings.push(...view.warnings);

    // 4 to 6, pool by pool.
    let owned = 0;
    for (const pool of this.inScope(pools, options.pool, report)) {
      this.checkSignal(signal);
      owned += await this.passPool(pool, view, BigInt(revision), run);
    }
    if (owned === 0 && view.driverNetworks > 0) {
      report.warnings.push(
        `node ${this.config.nodeId} owns no address and no membership in etcd, yet Docker has ` +
          `${view.driverNetworks} network(s) of driver ${driver}: is NODE_ID the plugin's?`,
      );
    }
  }

  /** Steps 4 to 6 of a pass for one pool; returns how many of its keys this node owns. */
  private async passPool(pool: StoredPool, view: DockerView, R: bigint, run: Run): Promise<number> {
    const nodeId = this.config.nodeId;
    const use = view.uses.get(pool.id);
    const poolReport = newPoolReport(pool, use);
    run.report.pools.push(poolReport);

    // 4. Addresses: this node's, older than R, not a gateway, unknown to Docker.
    const addresses = await this.sweep(
      pool,
      (address) => classifyAddress(address, nodeId, R, view.known),
      run,
      poolReport,
    );

    // 5. This node's membership against the local networks on the pool.
    const { members } = await this.store.listMembers(pool.id, this.store.deadline());
    const mine = members.find((m) => m.node === nodeId);
    const plan = planMembership(mine, use, R);
    const dropped = await this.applyMembershipPlan(plan, pool, run, poolReport);

    // 6. The pool itself, once no node is a member.
    const gc = planPoolDeletion(members.length - (dropped ? 1 : 0), use);
    poolReport.outcome =
      gc === 'delete' ? await this.deletePool(pool, run) : { result: 'kept', reason: gc };

    return addresses.filter((a) => a.record.node === nodeId).length + (mine ? 1 : 0);
  }

  /**
   * Step 5: applies the plan for this node's membership of `pool` and reports it. True when the
   * membership was deleted (or, in a dry run, would be).
   */
  private async applyMembershipPlan(
    plan: MembershipPlan,
    pool: StoredPool,
    run: Run,
    poolReport: PoolReport,
  ): Promise<boolean> {
    const { options, report, signal } = run;
    const node = this.config.nodeId;
    switch (plan.action) {
      case 'none':
        break;
      case 'missing':
        poolReport.membership = { node, result: 'missing' };
        report.warnings.push(
          `pool ${pool.id} is used by Docker network ${plan.networks.join(', ')}, but node ` +
            `${node} is not a member: the pool is kept; re-create the network to rejoin it`,
        );
        break;
      case 'keep':
        poolReport.membership = { node, result: 'kept', refs: plan.refs, reason: plan.reason };
        break;
      case 'skip':
        poolReport.membership = { node, result: 'skipped', reason: plan.reason };
        break;
      case 'set-refs': {
        this.checkSignal(signal);
        const set =
          options.dryRun ||
          (await this.store.setMemberRefs(
            pool.id,
            plan.member,
            plan.to,
            newNonce(),
            this.store.deadline(),
          )) === 'set';
        if (set) {
          report.totals.refsSet++;
          poolReport.membership = { node, result: 'refs-set', from: plan.from, to: plan.to };
          this.change(
            options,
            `set node ${node}'s references to pool ${pool.id} from ${plan.from} to ${plan.to}`,
          );
        } else {
          poolReport.membership = { node, result: 'skipped', reason: 'changed' };
        }
        break;
      }
      case 'delete':
        return this.deleteMembership(pool, plan.member, 'no-local-network', run, poolReport);
    }
    return false;
  }

  /**
   * Step 0 of a pass: refuses (CleanupRefused) when another live plugin holds this NODE_ID, on
   * another host or besides this host's own; it hands out addresses that this host's Docker does
   * not know, and the pass would free them as leaks. With --force: a warning, and the pass runs.
   */
  private async refuseSharedNodeId(run: Run): Promise<void> {
    const node = this.config.nodeId;
    const host = hostname();
    const holders = await this.liveHolders(node, (r) => passConflicts(r, host), run.signal);
    if (holders.length === 0) {
      return;
    }
    const problem =
      `NODE_ID ${node} is held by ${describeHolders(holders)}; a pass on host ${host} would ` +
      `free the addresses that plugin hands out as if they were this host's leaks`;
    if (!run.options.force) {
      throw new CleanupRefused(`${problem}: give every host its own NODE_ID, or add --force`);
    }
    this.log.warn(`${problem}: --force given, running the pass anyway`);
    run.report.warnings.push(`${problem}: --force given, the pass ran anyway`);
  }

  /** The live registrations of `node` that `conflicts` picks; waits one TTL if any is listed. */
  private liveHolders(
    node: string,
    conflicts: (registrations: readonly StoredRegistration[]) => StoredRegistration[],
    signal: AbortSignal,
  ): Promise<StoredRegistration[]> {
    return liveConflicts({
      store: this.store,
      node,
      conflicts,
      signal,
      onWait: (seconds, listed) =>
        this.log.log(
          `NODE_ID ${node} has ${listed.length} plugin registration(s) (${describeHolders(listed)}); ` +
            `waiting ${seconds} s to see which are kept alive`,
        ),
    }).catch((e: unknown) => {
      if (signal.aborted) {
        throw new CleanupInterrupted(`interrupted by ${reasonOf(signal)}`);
      }
      throw e;
    });
  }

  // ------------------------------------------------------------------------ --forget-node

  private async forget(node: string, run: Run): Promise<void> {
    // 1. Never this node's own id: a pass frees its leaks.
    if (node === this.config.nodeId) {
      throw new CleanupRefused(
        `--forget-node ${node} is this node's own NODE_ID: a cleanup pass frees its leaks`,
      );
    }
    // 2. Never a node whose plugin is alive: it keeps its registration (and its addresses).
    const alive = await this.liveHolders(node, forgetConflicts, run.signal);
    if (alive.length > 0) {
      throw new CleanupRefused(
        `node ${node} is alive: ${describeHolders(alive)} keeps its registration; ` +
          '--forget-node is for a node gone for good: stop that plugin first',
      );
    }
    // 3. R, and etcd's pools (Docker is not asked).
    const revision = await this.store.currentRevision(this.store.deadline());
    run.report.revision = revision;
    const { pools } = await this.store.listPools(this.store.deadline());
    this.log.log(`forgetting node ${node} at etcd revision ${revision}`);

    // 4 to 6, pool by pool.
    for (const pool of this.inScope(pools, run.options.pool, run.report)) {
      this.checkSignal(run.signal);
      await this.forgetInPool(node, pool, BigInt(revision), run);
    }
  }

  /** Steps 4 to 6 of --forget-node for one pool. */
  private async forgetInPool(node: string, pool: StoredPool, R: bigint, run: Run): Promise<void> {
    const poolReport = newPoolReport(pool, undefined);
    run.report.pools.push(poolReport);

    // 4. The node's addresses, gateways excepted, older than R.
    await this.sweep(pool, (address) => classifyForgotten(address, node, R), run, poolReport);

    // 5. Its membership, unless written after R.
    const { members } = await this.store.listMembers(pool.id, this.store.deadline());
    const theirs = members.find((m) => m.node === node);
    let dropped = false;
    if (theirs && BigInt(theirs.modRevision) > R) {
      poolReport.membership = { node, result: 'skipped', reason: 'new' };
    } else if (theirs) {
      dropped = await this.deleteMembership(pool, theirs, 'forgotten', run, poolReport);
    }

    // 6. Only the pools this node leaves without members: the others are a pass's business.
    const membersLeft = members.length - (dropped ? 1 : 0);
    if (dropped && membersLeft === 0) {
      poolReport.outcome = await this.deletePool(pool, run);
    } else if (membersLeft === 0) {
      poolReport.outcome = { result: 'kept', reason: 'not-forgotten' };
    }
  }

  // ------------------------------------------------------------------------------ helpers

  /**
   * Lists a pool's addresses (returned) and frees those classified 'orphan' or 'forgotten', each
   * only if unchanged since read, MAX_DELETE_BATCH per etcd transaction. Every address is counted
   * into the report with its final reason, in order, as soon as its batch is done, so a pass that
   * fails or is interrupted part-way reports exactly what it freed.
   */
  private async sweep(
    pool: StoredPool,
    classify: (address: StoredAddress) => AddressReason,
    { options, signal, report }: Run,
    poolReport: PoolReport,
  ): Promise<StoredAddress[]> {
    const { addresses } = await this.store.listAddresses(pool.id, this.store.deadline());
    let seen: { address: StoredAddress; reason: AddressReason }[] = [];
    let doomed: { address: StoredAddress; reason: AddressReason }[] = [];
    const flush = async (): Promise<void> => {
      if (doomed.length > 0 && !options.dryRun) {
        this.checkSignal(signal);
        const results = await this.store.deleteAddressesIfUnchanged(
          pool.id,
          doomed.map((d) => d.address),
          this.store.deadline(),
        );
        doomed.forEach((d, i) => {
          if (results[i] === 'changed') {
            d.reason = 'changed';
            return;
          }
          const { address } = d;
          this.log.log(
            `freed ${address.ip} in pool ${pool.id} (node ${address.record.node}, ` +
              `${d.reason === 'orphan' ? 'unknown to Docker' : 'node forgotten'}, mod revision ${address.modRevision})`,
          );
        });
      }
      for (const { address, reason } of seen) {
        countAddress(
          report,
          poolReport,
          addressOutcome(address.ip, address.record.node, address.record.type, reason),
        );
      }
      seen = [];
      doomed = [];
    };
    for (const address of addresses) {
      const entry = { address, reason: classify(address) };
      seen.push(entry);
      if (entry.reason === 'orphan' || entry.reason === 'forgotten') {
        doomed.push(entry);
        if (doomed.length === MAX_DELETE_BATCH) {
          await flush();
        }
      }
    }
    await flush();
    return addresses;
  }

  /**
   * Deletes a membership if unchanged since read and reports it (true), or reports it changed
   * (false). A dry run deletes nothing and reports what it would delete.
   */
  private async deleteMembership(
    pool: StoredPool,
    member: NodeMember,
    reason: 'no-local-network' | 'forgotten',
    { options, report, signal }: Run,
    poolReport: PoolReport,
  ): Promise<boolean> {
    const { node } = member;
    if (!options.dryRun) {
      this.checkSignal(signal);
      const result = await this.store.deleteMemberIfUnchanged(
        pool.id,
        member,
        this.store.deadline(),
      );
      if (result !== 'deleted') {
        poolReport.membership = { node, result: 'skipped', reason: 'changed' };
        return false;
      }
    }
    report.totals.membershipsDeleted++;
    poolReport.membership = { node, result: 'deleted', reason };
    this.change(
      options,
      `deleted node ${node}'s membership of pool ${pool.id}` +
        (reason === 'no-local-network' ? ': no local network uses it' : ''),
    );
    return true;
  }

  /** Deletes the pool if it still has no member (compared in the transaction). */
  private async deletePool(
    pool: StoredPool,
    { options, report, signal }: Run,
  ): Promise<PoolReport['outcome']> {
    const subnet = Prefix.tryParse(pool.record.subnet);
    const network = subnet ? subnetKeyName(subnet) : undefined;
    if (network === undefined) {
      report.warnings.push(`pool ${pool.id} has no valid subnet (${pool.record.subnet}): kept`);
      return { result: 'kept', reason: 'invalid' };
    }
    if (!options.dryRun) {
      this.checkSignal(signal);
      if (!(await this.store.deletePoolIfUnused(pool, network, this.store.deadline()))) {
        return { result: 'kept', reason: 'changed' };
      }
      this.log.log(`deleted pool ${pool.id} (${pool.record.subnet}): no member left`);
    }
    report.totals.poolsDeleted++;
    return { result: 'deleted' };
  }

  private inScope(
    pools: readonly StoredPool[],
    only: string | undefined,
    report: CleanupReport,
  ): StoredPool[] {
    if (only === undefined) {
      return [...pools];
    }
    const found = pools.filter((p) => p.id === only);
    if (found.length === 0) {
      report.warnings.push(`pool ${only} does not exist in etcd: nothing to do`);
    }
    return found;
  }

  private change(options: CleanupOptions, what: string): void {
    if (!options.dryRun) {
      this.log.log(what);
    }
  }

  private async quiesce(seconds: number, signal: AbortSignal): Promise<void> {
    this.checkSignal(signal);
    try {
      await sleep(seconds * 1000, undefined, { signal });
    } catch (e) {
      if (signal.aborted) {
        throw new CleanupInterrupted(`interrupted by ${reasonOf(signal)} during the quiesce`);
      }
      throw e;
    }
  }

  private checkSignal(signal: AbortSignal): void {
    if (signal.aborted) {
      throw new CleanupInterrupted(`interrupted by ${reasonOf(signal)}`);
    }
  }

  private describeFailure(e: unknown, report: CleanupReport): string {
    const t = report.totals;
    const changes = report.dryRun ? 0 : t.freed + t.membershipsDeleted + t.refsSet + t.poolsDeleted;
    const expected =
      e instanceof StoreUnavailable ||
      e instanceof DockerUnavailable ||
      e instanceof CleanupInterrupted ||
      e instanceof CleanupRefused;
    const message = e instanceof Error ? e.message : String(e);
    if (!expected) {
      this.log.error(`cleanup failed: ${message}`, e instanceof Error ? e.stack : undefined);
    }
    return changes === 0
      ? `${message}; nothing was deleted`
      : `${message}; stopped after ${changes} change(s), each checked against etcd`;
  }
}

function newPoolReport(pool: StoredPool, use: PoolUse | undefined): PoolReport {
  return {
    pool: pool.id,
    subnet: pool.record.subnet,
    networks: [...(use?.networks ?? []), ...(use?.foreign ?? [])],
    kept: 0,
    freed: 0,
    skipped: 0,
    reasons: {},
    addresses: [],
    outcome: { result: 'kept', reason: 'has-members' },
  };
}

function reasonOf(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'a signal';
}
