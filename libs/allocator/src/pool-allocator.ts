import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ipamConfig, type IpamConfig } from '#app/config';
import {
  GATEWAY_DATA_KEY,
  HostNetworkConflict,
  InvalidRequest,
  LOCAL_POOL_PREFIX,
  PoolMismatch,
  poolIdOf,
  SubnetConflict,
  SupernetExhausted,
  type PoolReply,
  type PoolRequest,
} from '#app/ipam';
import {
  Prefix,
  firstFreeSubnetIn,
  sortedIntervals,
  supernetUsage,
  type SortedIntervals,
} from '#app/net';
import {
  AllocationStore,
  newNonce,
  subnetKeyName,
  type Deadline,
  type PoolRecord,
  type StoredPool,
} from '#app/store';
import {
  firstOverlap,
  HOST_NETWORKS,
  hostReservations,
  type HostNetworks,
  type HostReservation,
} from './host-networks.js';
import { checkDeadline } from './deadline.js';
import { PoolStates } from './pool-states.js';
import { checkV6PoolRequest } from './pool-request-v6.js';
import { Supernet6, toSupernets, type Supernet } from './supernet6.js';
import { SubnetCache, toSubnetView, type SubnetView } from './subnet-cache.js';
import { checkSubnetLength, verifySameLength } from './subnet-length.js';
import {
  checkExclusions,
  checkNewPoolExclusions,
  storedExclusions,
  verifySameExclusions,
} from './exclusions.js';

/**
 * IPv4 ranges where no address can serve a container: a static pool that overlaps one is refused.
 * (Static pools are otherwise only checked against other pools.)
 */
const NO_CONTAINER_RANGES: readonly { range: Prefix; what: string }[] = [
  { range: Prefix.parse('0.0.0.0/8'), what: '"this network" (RFC 1122)' },
  { range: Prefix.parse('127.0.0.0/8'), what: 'loopback (RFC 1122)' },
  { range: Prefix.parse('169.254.0.0/16'), what: 'link-local (RFC 3927)' },
  { range: Prefix.parse('224.0.0.0/3'), what: 'multicast and reserved (RFC 5771, RFC 1112)' },
];

/** Smallest IPv4 pool prefix length; the largest is /30 (a /31 or /32 has no room for hosts). */
const MIN_POOL_LENGTH = 8;
const MAX_POOL_LENGTH = 30;

/** A supernet, how many subnets of its length it has, and how many overlap no pool. */
export interface SupernetUsage {
  supernet: Prefix;
  length: number;
  subnets: bigint;
  free: bigint;
}

/** One RequestPool in progress: what it asks for and what its rounds have learned so far. */
interface PoolCall {
  id: string;
  wanted: PoolRequest;
  nonce: string;
  deadline: Deadline;
}

/** What one round of a RequestPool decided: the reply, or how to go round again. */
type Round =
  | { done: PoolReply }
  /** read the subnets afresh (the view may be behind), or wait for it to reach a revision */
  | { again: 'fresh' | 'view'; atLeast?: string }
  /** the pool exists (a concurrent create): join it */
  | { again: 'join' };

/**
 * Pool policy (README, "Pools"): shared pools by `network` name, static or dynamic subnets, and
 * per-node reference-counted membership. All correctness comes from AllocationStore's
 * transactions; this class chooses what to ask for and retries when a compare fails because of
 * a concurrent write, until the request's deadline.
 */
@Injectable()
export class PoolAllocator implements OnModuleDestroy {
  private readonly log = new Logger('PoolAllocator');
  private readonly subnets: SubnetCache;
  /** KONTENA_IPAM_SUPERNET, in the order they are tried. */
  private readonly supernets: readonly Supernet[];
  private readonly supernet6: Supernet6;
  /** The revision of the last pool this node created: the subnet view must include it. */
  private lastCreate?: string;

  constructor(
    private readonly store: AllocationStore,
    @Inject(ipamConfig.KEY) private readonly config: IpamConfig,
    @Inject(HOST_NETWORKS) private readonly host: HostNetworks,
    private readonly addressStates: PoolStates,
  ) {
    this.subnets = new SubnetCache(store);
    this.supernets = toSupernets(config.supernets);
    this.supernet6 = new Supernet6(store, config, this.log);
  }

  async onModuleDestroy(): Promise<void> {
    await this.subnets.close();
  }

  /**
   * Joins the shared pool of that name when it exists, else creates it (or a private pool) with
   * the requested subnet or the first free one. Subnets come from the watched view (SubnetCache):
   * a new pool is then one transaction. A fresh read replaces the view whenever it may be behind:
   * after a failed compare, and before answering a conflict or an exhausted supernet.
   */
  async requestPool(wanted: PoolRequest): Promise<PoolReply> {
    checkPoolRequest(wanted);
    checkSubnetLength(wanted, wanted.v6 ? this.supernet6.configured : this.supernets);
    checkExclusions(wanted);
    const call: PoolCall = {
      id:
        wanted.network === undefined
          ? `${LOCAL_POOL_PREFIX}${randomUUID()}`
          : poolIdOf(wanted.network, wanted.v6),
      wanted,
      nonce: newNonce(),
      deadline: this.store.deadline(),
    };
    let fresh = false;
    let exists = false;
    // The view must hold our own last create (its compare would fail on it otherwise), and
    // after a failed compare the change that failed it: the watch delivers both in a moment.
    let atLeast = this.lastCreate;
    for (let attempt = 0; ; attempt++) {
      checkDeadline(call.deadline, `pool ${call.id}`);
      const cached: SubnetView | undefined = fresh
        ? undefined
        : await this.subnets.view(call.deadline, atLeast);
      const view: SubnetView = cached ?? toSubnetView(await this.store.listSubnets(call.deadline));
      // A shared pool exists when a subnet names it (written in the same commit as the pool).
      const shared: boolean =
        wanted.network !== undefined && (exists || view.reserved.some((r) => r.pool === call.id));
      const round: Round = shared
        ? await this.join(call)
        : await this.create(call, view, { fresh, fromView: cached !== undefined, attempt });
      if ('done' in round) {
        return round.done;
      }
      exists = round.again === 'join';
      fresh = round.again === 'fresh';
      if (round.again !== 'join' && round.atLeast !== undefined) {
        atLeast = round.atLeast;
      }
    }
  }

  /** One round of joining an existing shared pool: one more reference for this node. */
  private async join(call: PoolCall): Promise<Round> {
    const node = this.config.nodeId;
    const { pool, member } = await this.store.getPoolAndMember(call.id, node, call.deadline);
    if (!pool) {
      return { again: 'fresh' }; // gone since the view saw it: choose a subnet afresh
    }
    verifySameShape(pool, call.wanted.subnet, call.wanted.range);
    verifySameLength(pool, call.wanted);
    verifySameExclusions(pool, call.wanted);
    await this.checkDockerKeepsIt(call, pool);
    const joined = await this.store.joinPool(pool, node, member, call.nonce, call.deadline);
    if (joined.kind !== 'joined') {
      return { again: 'view' }; // the pool vanished or our membership changed: read again
    }
    const reply = replyFor(pool);
    this.log.log(
      `joined pool ${call.id} (${reply.pool}) on node ${node}, references ${joined.refs}`,
    );
    return { done: reply };
  }

  /** One round of creating the pool from `view`: one transaction, fenced on its revision. */
  private async create(
    call: PoolCall,
    view: SubnetView,
    round: { fresh: boolean; fromView: boolean; attempt: number },
  ): Promise<Round> {
    const { wanted } = call;
    checkNewPoolExclusions(wanted);
    const dynamic = wanted.subnet ? undefined : await this.chooseDynamic(call, view);
    const subnet = wanted.subnet ?? dynamic?.subnet;
    const clash = wanted.subnet && view.reserved.find((r) => r.prefix.overlaps(wanted.subnet!));
    if (!subnet || clash) {
      if (!round.fresh) {
        return { again: 'fresh' }; // the view may be behind a release: make sure
      }
      if (clash && wanted.subnet) {
        throw new SubnetConflict(wanted.subnet.toString(), clash.prefix.toString(), clash.pool);
      }
      throw new SupernetExhausted(
        (dynamic?.tried ?? this.supernets).map((s) => s.prefix.toString()),
      );
    }
    const gateway = subnet.firstHost()!;
    const record: PoolRecord = {
      subnet: subnet.toString(),
      gateway: `${gateway.toString()}/${subnet.length}`,
      ...(wanted.range ? { iprange: wanted.range.toString() } : {}),
      ...(wanted.exclude && !wanted.v6 ? { exclude: storedExclusions(wanted.exclude) } : {}),
    };
    const result = await this.store.createPool(
      {
        id: call.id,
        record,
        network: subnetKeyName(subnet),
        gatewayIp: gateway.toString(),
        node: this.config.nodeId,
      },
      view.revision,
      call.nonce,
      call.deadline,
    );
    if (result.kind === 'created') {
      if (BigInt(result.pool.createRevision) > BigInt(this.lastCreate ?? '0')) {
        this.lastCreate = result.pool.createRevision;
      }
      this.log.log(
        `created pool ${call.id} with subnet ${record.subnet}` +
          `${record.iprange ? ` range ${record.iprange}` : ''} gateway ${gateway.toString()} on node ${this.config.nodeId}`,
      );
      return { done: replyFor(result.pool) };
    }
    if (result.kind === 'exists') {
      return { again: 'join' }; // created by another node at the same instant
    }
    // Another subnet was written since our read. A static subnet is re-checked against the new
    // list (a real overlap becomes a 400); a dynamic one moves on to the next free subnet. Wait
    // for the view to show the change (a few tries), else read afresh.
    this.log.debug(
      `subnets changed while creating pool ${call.id} (attempt ${round.attempt + 1}); retrying`,
    );
    return round.fromView && round.attempt < 3
      ? { again: 'view', atLeast: String(BigInt(view.revision) + 1n) }
      : { again: 'fresh' };
  }

  /**
   * Each supernet dynamic pools come from (KONTENA_IPAM_SUPERNET, then the IPv6 ones this node
   * knows), with how many subnets of its length it has and how many overlap no pool: the
   * cluster's numbers from the watched subnets, this host's routes aside (for the metrics).
   */
  async supernetUsage(deadline: Deadline): Promise<SupernetUsage[]> {
    // The view with this node's own last pool in it (as RequestPool reads it).
    const view =
      (await this.subnets.view(deadline, this.lastCreate)) ??
      toSubnetView(await this.store.listSubnets(deadline));
    const pools = view.reserved.map((r) => r.prefix);
    return [...this.supernets, ...this.supernet6.known()].map(({ prefix, length }) => {
      const { subnets, free } = supernetUsage(prefix, length, pools);
      return { supernet: prefix, length, subnets, free };
    });
  }

  async releasePool(poolId: string): Promise<void> {
    const deadline = this.store.deadline();
    const nonce = newNonce();
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
      const subnet = Prefix.tryParse(pool.record.subnet);
      const network = subnet ? subnetKeyName(subnet) : '';
      const result = await this.store.leavePool(pool, node, member, network, nonce, deadline);
      switch (result.kind) {
        case 'decremented':
          this.log.log(
            `released one reference to pool ${poolId} on node ${node}, ${result.refs} left`,
          );
          return;
        case 'left':
          this.addressStates.drop(poolId);
          this.log.log(`node ${node} left pool ${poolId}; other nodes still use it`);
          return;
        case 'pool-deleted':
          this.addressStates.drop(poolId);
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
   * Refuses, before any reference is taken, a shared pool that dockerd would not use: for a
   * local network created without `--subnet` (AddressSpace "kontenalocal", no Pool) dockerd holds
   * a pool that overlaps an on-link route or a nameserver of this host and asks again, and the
   * same shared pool comes back every time: a loop that took thousands of references in seconds.
   */
  private async checkDockerKeepsIt(call: PoolCall, pool: StoredPool): Promise<void> {
    const subnet = Prefix.tryParse(pool.record.subnet);
    if (call.wanted.addressSpace !== 'local' || call.wanted.subnet || !subnet) {
      return;
    }
    const clash = firstOverlap(subnet, await this.hostReserved());
    if (clash) {
      throw new HostNetworkConflict(
        `pool ${pool.id} (${subnet.toString()}) overlaps ${clash.what}, which dockerd refuses for a network created without --subnet`,
      );
    }
  }

  /** What dockerd keeps pools off on this host; nothing with KONTENA_IPAM_AVOID_HOST_ROUTES=false. */
  private async hostReserved(): Promise<HostReservation[]> {
    if (!this.config.avoidHostRoutes) {
      return [];
    }
    return hostReservations(await this.host.onLinkRoutes(), await this.host.nameservers());
  }

  /**
   * The supernets a dynamic pool of the call's family may come from, and the first free subnet
   * of the first that has one (none when all are full). The IPv6 supernets are read (or the
   * cluster's chosen) on the first dynamic IPv6 pool only: neither start-up nor a static pool
   * needs them.
   */
  private async chooseDynamic(
    call: PoolCall,
    view: SubnetView,
  ): Promise<{ tried: readonly Supernet[]; subnet?: Prefix }> {
    if (!call.wanted.v6) {
      const host = (await this.hostReserved()).map((r) => r.prefix);
      // The reserved subnets come sorted from the view (sorted once per change, not per call:
      // with 1,000 pools sorting was most of this); this host's few on-link routes and
      // nameservers are sorted here and merged in each sweep.
      const lists = host.length > 0 ? [view.intervals, sortedIntervals(host, 4)] : [view.intervals];
      const subnet = firstFreeInList(this.supernets, call.wanted.subnetLength, lists);
      return { tried: this.supernets, ...(subnet && { subnet }) };
    }
    const supernets = await this.supernet6.get(call.deadline);
    checkSubnetLength(call.wanted, supernets); // the cluster's ULA, now that it is known
    const subnet = firstFreeInList(supernets, call.wanted.subnet6Length, [view.intervals6]);
    return { tried: supernets, ...(subnet && { subnet }) };
  }
}

/**
 * The first free subnet of the first supernet, in the configured order, that has one: each one
 * sweep over the sorted reservations (libs/net, firstFreeSubnetIn), with the request's length or
 * else the supernet's. A supernet the requested length does not fit in is passed over.
 */
export function firstFreeInList(
  supernets: readonly Supernet[],
  requested: number | undefined,
  reserved: readonly SortedIntervals[],
): Prefix | undefined {
  for (const { prefix, length } of supernets) {
    const subnet = firstFreeSubnetIn(prefix, requested ?? length, reserved);
    if (subnet) {
      return subnet;
    }
  }
  return undefined;
}

/** Semantic checks of RequestPool that need no etcd: all of them happen before any write. */
export function checkPoolRequest(req: PoolRequest): void {
  if (req.network?.startsWith(LOCAL_POOL_PREFIX)) {
    throw new InvalidRequest(
      `Options.network "${req.network}" starts with "${LOCAL_POOL_PREFIX}", which is reserved for the pools of networks created without a network name`,
    );
  }
  if (req.range && !req.subnet) {
    throw new InvalidRequest(
      `SubPool ${req.range.toString()} requires Pool: give --subnet together with --ip-range`,
    );
  }
  if (req.v6) {
    checkV6PoolRequest(req);
  } else if (req.subnet) {
    checkIPv4Subnet(req.subnet, 'Pool');
    const reserved = NO_CONTAINER_RANGES.find((r) => r.range.overlaps(req.subnet!));
    if (reserved) {
      throw new InvalidRequest(
        `Pool ${req.subnet.toString()} overlaps ${reserved.range.toString()}, ${reserved.what}, where no address can serve a container`,
      );
    }
  }
  if (req.range && !req.v6) {
    checkIPv4Subnet(req.range, 'SubPool');
  }
  if (req.subnet && req.range && !req.subnet.containsPrefix(req.range)) {
    throw new InvalidRequest(
      `SubPool ${req.range.toString()} is not inside Pool ${req.subnet.toString()}`,
    );
  }
}

/** An IPv4 subnet from /8 to /30 with no host bits set. */
function checkIPv4Subnet(prefix: Prefix, field: string): void {
  const text = prefix.toString();
  if (prefix.family !== 4) {
    throw new InvalidRequest(
      `${field} ${text} is IPv6, but V6 is false: give an IPv6 --subnet to a network created with --ipv6`,
    );
  }
  if (prefix.length < MIN_POOL_LENGTH || prefix.length > MAX_POOL_LENGTH) {
    throw new InvalidRequest(
      `${field} ${text} has prefix length /${prefix.length}: IPv4 pools must be /${MIN_POOL_LENGTH} to /${MAX_POOL_LENGTH}`,
    );
  }
  if (prefix.hasHostBits()) {
    throw new InvalidRequest(
      `${field} ${text} has host bits set: did you mean ${prefix.masked().toString()}?`,
    );
  }
}

function verifySameShape(pool: StoredPool, subnet?: Prefix, range?: Prefix): void {
  if (subnet && subnet.toString() !== pool.record.subnet) {
    throw new PoolMismatch(
      `pool ${pool.id} exists with subnet ${pool.record.subnet}, requested ${subnet.toString()}`,
    );
  }
  if (range && range.toString() !== pool.record.iprange) {
    throw new PoolMismatch(
      pool.record.iprange
        ? `pool ${pool.id} exists with ip range ${pool.record.iprange}, requested ${range.toString()}`
        : `pool ${pool.id} exists without an ip range, requested ${range.toString()}`,
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
