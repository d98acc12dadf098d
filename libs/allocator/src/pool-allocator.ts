import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { IPAM_CONFIG, type IpamConfig } from '#app/config';
import { Prefix, firstFreeSubnetIn, sortedIntervals, type SortedIntervals } from '#app/net';
import {
  EtcdStore,
  InvalidRequest,
  PoolMismatch,
  StoreUnavailable,
  SubnetConflict,
  SupernetExhausted,
  type Deadline,
  type PoolRecord,
  type StoredPool,
} from '#app/store';
import { HOST_ROUTES, type HostRoutes } from './host-routes.js';
import { SubnetCache, toSubnetView } from './subnet-cache.js';
import { NETWORK_OPTION, type PoolReply, type PoolRequest } from './types.js';
import { GATEWAY_DATA_KEY, parseIPv4Prefix, validatePoolId } from './validation.js';

/** Generated ids of pools without `Options.network`: private to one Docker network. */
export const LOCAL_POOL_PREFIX = 'local-';

/**
 * Pool policy (spec 1.3): shared pools by `network` name, static or dynamic subnets, and
 * per-node reference-counted membership. All correctness comes from EtcdStore's transactions;
 * this class chooses what to ask for and retries when a compare fails because of a concurrent
 * write, until the request's deadline.
 */
@Injectable()
export class PoolAllocator implements OnModuleDestroy {
  private readonly log = new Logger('PoolAllocator');

  constructor(
    private readonly store: EtcdStore,
    @Inject(IPAM_CONFIG) private readonly config: IpamConfig,
    @Inject(HOST_ROUTES) private readonly hostRoutes: HostRoutes,
  ) {
    this.subnets = new SubnetCache(store);
    this.supernet = Prefix.parse(config.supernet);
  }

  private readonly subnets: SubnetCache;
  private readonly supernet: Prefix;
  /** The revision of the last pool this node created: the subnet view must include it. */
  private lastCreate?: string;

  async onModuleDestroy(): Promise<void> {
    await this.subnets.close();
  }

  async requestPool(req: PoolRequest): Promise<PoolReply> {
    const wanted = parsePoolRequest(req);
    const deadline = this.store.deadline();
    const nonce = EtcdStore.nonce();
    const id = wanted.network ?? `${LOCAL_POOL_PREFIX}${randomUUID()}`;
    // Subnets come from the watched view (SubnetCache): a new pool is then one transaction. A
    // fresh read replaces the view whenever it may be behind: after a failed compare, and before
    // answering a conflict or an exhausted supernet.
    let fresh = false;
    let exists = false;
    // The view must hold our own last create (its compare would fail on it otherwise), and
    // after a failed compare the change that failed it: the watch delivers both in a moment.
    let atLeast = this.lastCreate;

    for (let attempt = 0; ; attempt++) {
      checkDeadline(deadline, `pool ${id}`);
      const view = fresh ? undefined : await this.subnets.view(atLeast);
      const { reserved, intervals, revision } =
        view ?? toSubnetView(await this.store.listSubnets(deadline));
      // A shared pool exists when a subnet names it (written in the same commit as the pool).
      if (wanted.network !== undefined && (exists || reserved.some((r) => r.pool === id))) {
        const { pool, member } = await this.store.getPoolAndMember(
          id,
          this.config.nodeId,
          deadline,
        );
        if (pool) {
          const reply = replyFor(pool);
          verifySameShape(pool, wanted.subnet, wanted.iprange);
          const joined = await this.store.joinPool(
            pool,
            this.config.nodeId,
            member,
            nonce,
            deadline,
          );
          if (joined.kind === 'joined') {
            this.log.log(
              `joined pool ${id} (${reply.pool}) on node ${this.config.nodeId}, references ${joined.refs}`,
            );
            return reply;
          }
          continue; // pool vanished or our membership changed under us: read again
        }
        // Gone since the view saw it: choose a subnet from a fresh read.
        exists = false;
        fresh = true;
        continue;
      }

      const subnet = wanted.subnet ? wanted.subnet : await this.chooseDynamicSubnet(intervals);
      const clash = wanted.subnet && reserved.find((r) => r.prefix.overlaps(wanted.subnet!));
      if (!subnet || clash) {
        if (!fresh) {
          fresh = true; // the view may be behind a release: make sure
          continue;
        }
        if (clash && wanted.subnet) {
          throw new SubnetConflict(wanted.subnet.toString(), clash.prefix.toString());
        }
        throw new SupernetExhausted(this.supernet.toString());
      }
      const gateway = subnet.firstHost()!;
      const record: PoolRecord = {
        subnet: subnet.toString(),
        gateway: `${gateway.toString()}/${subnet.length}`,
        ...(wanted.iprange ? { iprange: wanted.iprange.toString() } : {}),
      };
      const result = await this.store.createPool(
        {
          id,
          record,
          network: subnet.network().toString(),
          gatewayIp: gateway.toString(),
          node: this.config.nodeId,
        },
        revision,
        nonce,
        deadline,
      );
      if (result.kind === 'created') {
        if (BigInt(result.pool.createRevision) > BigInt(this.lastCreate ?? '0')) {
          this.lastCreate = result.pool.createRevision;
        }
        this.log.log(
          `created pool ${id} with subnet ${record.subnet}` +
            `${record.iprange ? ` range ${record.iprange}` : ''} gateway ${gateway.toString()} on node ${this.config.nodeId}`,
        );
        return replyFor(result.pool);
      }
      if (result.kind === 'exists') {
        // Created by another node at the same instant: join it on the next round.
        exists = true;
        continue;
      }
      // Wait for the view to show the change (a few tries), else read afresh.
      if (view && attempt < 3) {
        atLeast = String(BigInt(revision) + 1n);
      } else {
        fresh = true;
      }
      // Another subnet was written since our read. A static subnet is re-checked against the
      // new list (a real overlap becomes a 400); a dynamic one moves on to the next free subnet.
      this.log.debug(
        `subnets changed while creating pool ${id} (attempt ${attempt + 1}); retrying`,
      );
    }
  }

  async releasePool(poolId: string): Promise<void> {
    validatePoolId(poolId, 'PoolID');
    const deadline = this.store.deadline();
    const nonce = EtcdStore.nonce();
    const node = this.config.nodeId;
    for (;;) {
      checkDeadline(deadline, `pool ${poolId}`);
      const { pool, member } = await this.store.getPoolAndMember(poolId, node, deadline);
      if (!pool) {
        this.log.warn(`ReleasePool of unknown pool ${poolId}: nothing to do`);
        return;
      }
      if (!member) {
        this.log.warn(
          `ReleasePool of pool ${poolId} from node ${node}, which is not a member: nothing to do`,
        );
        return;
      }
      const network = Prefix.tryParse(pool.record.subnet)?.network().toString() ?? '';
      const result = await this.store.leavePool(pool, node, member, network, nonce, deadline);
      switch (result.kind) {
        case 'decremented':
          this.log.log(
            `released one reference to pool ${poolId} on node ${node}, ${result.refs} left`,
          );
          return;
        case 'left':
          this.log.log(`node ${node} left pool ${poolId}; other nodes still use it`);
          return;
        case 'pool-deleted':
          this.log.log(
            `deleted pool ${poolId} (${pool.record.subnet}): its last member ${node} released it`,
          );
          return;
        case 'retry':
          continue;
      }
    }
  }

  /**
   * The first free dynamic subnet, or undefined when the supernet is full. The reserved subnets
   * come sorted from the view (sorted once per change, not per call: with 1,000 pools sorting
   * was most of this); this host's few on-link routes are sorted here and merged in the sweep.
   */
  private async chooseDynamicSubnet(reserved: SortedIntervals): Promise<Prefix | undefined> {
    const lists = [reserved];
    if (this.config.avoidHostRoutes) {
      const routes: Prefix[] = [];
      for (const route of await this.hostRoutes.onLinkRoutes()) {
        const p = Prefix.tryParse(route);
        if (p) {
          routes.push(p);
        }
      }
      lists.push(sortedIntervals(routes, this.supernet.family));
    }
    return firstFreeSubnetIn(this.supernet, this.config.subnetLength, lists);
  }
}

interface ParsedPoolRequest {
  network?: string;
  subnet?: Prefix;
  iprange?: Prefix;
}

/** Semantic checks of RequestPool that need no etcd: all of them happen before any write. */
export function parsePoolRequest(req: PoolRequest): ParsedPoolRequest {
  if (req.v6) {
    throw new InvalidRequest('IPv6 is not supported: this plugin allocates IPv4 pools only');
  }
  const network = req.options[NETWORK_OPTION];
  if (network !== undefined) {
    validatePoolId(network, 'network option');
  }
  if (req.subPool && !req.pool) {
    throw new InvalidRequest(
      `SubPool ${req.subPool} requires Pool: give --subnet together with --ip-range`,
    );
  }
  const subnet = req.pool ? parseIPv4Prefix(req.pool, 'Pool', 8) : undefined;
  const iprange = req.subPool ? parseIPv4Prefix(req.subPool, 'SubPool', 8) : undefined;
  if (subnet && iprange && !subnet.containsPrefix(iprange)) {
    throw new InvalidRequest(
      `SubPool ${iprange.toString()} is not inside Pool ${subnet.toString()}`,
    );
  }
  return { network, subnet, iprange };
}

function verifySameShape(pool: StoredPool, subnet?: Prefix, iprange?: Prefix): void {
  if (subnet && subnet.toString() !== pool.record.subnet) {
    throw new PoolMismatch(
      `pool ${pool.id} exists with subnet ${pool.record.subnet}, requested ${subnet.toString()}`,
    );
  }
  if (iprange && iprange.toString() !== pool.record.iprange) {
    throw new PoolMismatch(
      pool.record.iprange
        ? `pool ${pool.id} exists with ip range ${pool.record.iprange}, requested ${iprange.toString()}`
        : `pool ${pool.id} exists without an ip range, requested ${iprange.toString()}`,
    );
  }
}

function replyFor(pool: StoredPool): PoolReply {
  return {
    poolId: pool.id,
    pool: pool.record.subnet,
    data: { [GATEWAY_DATA_KEY]: pool.record.gateway },
  };
}

export function checkDeadline(deadline: Deadline, what: string): void {
  if (Date.now() > deadline) {
    throw new StoreUnavailable(
      `gave up on ${what}: etcd kept rejecting concurrent writes until the request's deadline`,
    );
  }
}
