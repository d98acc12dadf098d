import { poolIdOf } from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import type { NodeMember, StoredAddress, StoredPool } from '#app/store';

import type { DockerNetwork } from './docker/docker-networks.js';

/**
 * The decisions of a cleanup pass (docs/cleanup.md), as pure functions of Docker's view and
 * etcd's: what to keep, free or skip, and why. The service applies them with compare-guarded
 * transactions, so a decision made on a stale read can only fail, never delete too much.
 */

/** Every reason an address can be kept, freed or skipped, with that result. */
export const ADDRESS_REASONS = {
  /** Docker lists a container endpoint with this address. */
  container: 'kept',
  /** A Docker network's gateway (`IPAM.Config[].Gateway`). */
  'docker-gateway': 'kept',
  /** A Docker network's `--aux-address`. */
  'aux-address': 'kept',
  /** A gateway record: it lives as long as its pool. */
  gateway: 'kept',
  /** An aux record (`--aux-address`): the network's, whichever node wrote it; goes with the pool. */
  aux: 'kept',
  /** A record of a kind this version does not know (written by a newer one): never freed. */
  'unknown-kind': 'skipped',
  /** Another node's address: only that node, or --forget-node, may free it. */
  'other-node': 'skipped',
  /** Written after the pass recorded its revision: maybe a container that is starting. */
  new: 'skipped',
  /** Changed between the read and the delete (released, or released and taken again). */
  changed: 'skipped',
  /** This node's, older than the pass, unknown to Docker: leaked. */
  orphan: 'freed',
  /** The forgotten node's (--forget-node). */
  forgotten: 'freed',
} as const;

export type AddressReason = keyof typeof ADDRESS_REASONS;
export type AddressResult = (typeof ADDRESS_REASONS)[AddressReason];

/** The reasons in the order reports list them. */
export const ADDRESS_REASON_ORDER: readonly AddressReason[] = [
  'container',
  'docker-gateway',
  'aux-address',
  'gateway',
  'aux',
  'orphan',
  'forgotten',
  'other-node',
  'unknown-kind',
  'new',
  'changed',
];

export type DockerUse = 'container' | 'docker-gateway' | 'aux-address';

export interface KnownAddress {
  use: DockerUse;
  /** The Docker network that lists it. */
  network: string;
}

/** How the local Docker uses one pool. */
export interface PoolUse {
  /** Networks of this plugin's driver on the pool: one entry per reference Docker holds. */
  networks: string[];
  /** Networks of another IPAM driver whose subnet overlaps the pool (a wrong --driver?). */
  foreign: string[];
}

export interface DockerView {
  /** Every address Docker lists on the networks that matter, by IP. */
  known: Map<string, KnownAddress>;
  /** By pool id. */
  uses: Map<string, PoolUse>;
  /** How many networks of this plugin's driver Docker has. */
  driverNetworks: number;
  warnings: string[];
}

/**
 * Reads Docker's networks against the pools in etcd. A network of `driver` uses the pool named
 * by its `network` option or, without one (a `local-<uuid>` pool, whose id Docker does not
 * show), the pool whose subnet equals its subnet. A network of another IPAM driver whose subnet
 * overlaps a pool counts too, as foreign: its addresses are kept and the pool's membership left
 * alone, since that usually means --driver names the plugin wrongly.
 */
export function readDockerView(
  networks: readonly DockerNetwork[],
  pools: readonly StoredPool[],
  drivers: readonly string[],
): DockerView {
  const view: DockerView = { known: new Map(), uses: new Map(), driverNetworks: 0, warnings: [] };
  const subnets = pools.flatMap((p) => {
    const subnet = Prefix.tryParse(p.record.subnet);
    return subnet ? [{ id: p.id, subnet }] : [];
  });
  const poolIds = new Set(pools.map((p) => p.id));
  const useOf = (id: string): PoolUse => {
    let use = view.uses.get(id);
    if (!use) {
      use = { networks: [], foreign: [] };
      view.uses.set(id, use);
    }
    return use;
  };

  for (const network of networks) {
    // An entry without a subnet is kept as is; one with a subnet that does not parse is left out.
    const entries = network.configs.flatMap((config) => {
      const subnet = config.subnet === undefined ? undefined : Prefix.tryParse(config.subnet);
      return config.subnet !== undefined && subnet === undefined ? [] : [{ config, subnet }];
    });
    if (drivers.some((driver) => sameDriver(network.ipamDriver, driver))) {
      view.driverNetworks++;
      remember(view, network);
      for (const { config, subnet } of entries.length > 0 ? entries : [{ config: undefined }]) {
        // A dual-stack network's IPv6 entry is the pool NAME:v6.
        const poolId =
          network.poolOption !== undefined
            ? poolIdOf(network.poolOption, subnet?.family === 6)
            : subnet
              ? subnets.find((s) => s.subnet.equals(subnet))?.id
              : undefined;
        if (poolId === undefined) {
          view.warnings.push(
            `Docker network ${network.name} (subnet ${config?.subnet ?? 'unknown'}) matches no pool in etcd`,
          );
          continue;
        }
        if (!poolIds.has(poolId)) {
          view.warnings.push(
            `Docker network ${network.name} uses pool ${poolId}, which is not in etcd`,
          );
        }
        useOf(poolId).networks.push(network.name);
      }
      continue;
    }
    const overlapped = subnets.filter((s) =>
      entries.some(({ subnet }) => subnet !== undefined && subnet.overlaps(s.subnet)),
    );
    if (overlapped.length > 0) {
      remember(view, network);
      for (const s of overlapped) {
        useOf(s.id).foreign.push(network.name);
      }
      view.warnings.push(
        `Docker network ${network.name} has IPAM driver ${network.ipamDriver || '(none)'}, not ${drivers.join(' or ')}, ` +
          `yet overlaps pool ${overlapped.map((s) => s.id).join(', ')}: its addresses and ` +
          `this node's membership are kept (does --driver name the plugin?)`,
      );
    }
  }
  return view;
}

/**
 * Docker names a managed plugin `name:tag` and may show it with or without the default
 * `:latest` tag; a legacy plugin has no tag at all.
 */
export function sameDriver(a: string, b: string): boolean {
  return a.replace(/:latest$/, '') === b.replace(/:latest$/, '');
}

function remember(view: DockerView, network: DockerNetwork): void {
  const add = (ip: string | undefined, use: DockerUse): void => {
    const key = ip === undefined ? undefined : (Addr.tryParse(ip)?.toString() ?? ip);
    if (key !== undefined && !view.known.has(key)) {
      view.known.set(key, { use, network: network.name });
    }
  };
  for (const endpoint of network.endpoints) {
    add(endpoint.ipv4, 'container');
    add(endpoint.ipv6, 'container');
  }
  for (const config of network.configs) {
    add(config.gateway, 'docker-gateway');
    for (const aux of config.auxAddresses) {
      add(aux, 'aux-address');
    }
  }
}

/**
 * The records no cleanup frees, whoever wrote them: the network's own (gateway, aux: they go
 * with the pool) and those of a kind this version does not know (a newer node's).
 */
function neverFreed(address: StoredAddress): AddressReason | undefined {
  const kind = address.record.type ?? 'endpoint';
  if (kind === 'gateway' || kind === 'aux') {
    return kind;
  }
  return kind === 'endpoint' ? undefined : 'unknown-kind';
}

/** The pass: this node's addresses, judged against Docker's view and the revision R. */
export function classifyAddress(
  address: StoredAddress,
  nodeId: string,
  revision: bigint,
  known: ReadonlyMap<string, KnownAddress>,
): AddressReason {
  if (address.record.node !== nodeId) {
    return 'other-node';
  }
  const use = known.get(address.ip);
  if (use) {
    return use.use;
  }
  const kept = neverFreed(address);
  if (kept) {
    return kept;
  }
  // "Created before R": a key re-written after R is young too, so the mod revision decides.
  if (BigInt(address.modRevision) > revision) {
    return 'new';
  }
  return 'orphan';
}

/**
 * --forget-node: the forgotten node's addresses, the network's own excepted (gateway and aux
 * addresses go with the pool) and any of a kind this version does not know.
 */
export function classifyForgotten(
  address: StoredAddress,
  forgetNode: string,
  revision: bigint,
): AddressReason {
  if (address.record.node !== forgetNode) {
    return 'other-node';
  }
  const kept = neverFreed(address);
  if (kept) {
    return kept;
  }
  // Written after the pass began: the node is not gone after all.
  if (BigInt(address.modRevision) > revision) {
    return 'new';
  }
  return 'forgotten';
}

export type MembershipPlan =
  /** Not a member, and no local network uses the pool. */
  | { action: 'none' }
  | { action: 'keep'; refs: number; reason: 'in-use' | 'foreign-network' }
  /** Docker holds `to` references (one per local network), the membership counts `from`. */
  | { action: 'set-refs'; member: NodeMember; from: number; to: number }
  /** No local network uses the pool. */
  | { action: 'delete'; member: NodeMember }
  /** Changed after the pass began (a join or release in flight). */
  | { action: 'skip'; reason: 'new' }
  /** A local network uses the pool, yet this node is not a member: reported, never repaired. */
  | { action: 'missing'; networks: string[] };

/**
 * Reconciles this node's membership with the local Docker networks. A membership is
 * reference-counted (one RequestPool per network, and Docker does not replay them on restart),
 * so the right count is the number of local networks on the pool: fewer references than
 * networks is raised too, because a count too low lets the pool be deleted under a network.
 */
export function planMembership(
  member: NodeMember | undefined,
  use: PoolUse | undefined,
  revision: bigint,
): MembershipPlan {
  const networks = use?.networks ?? [];
  if (!member) {
    return networks.length > 0 ? { action: 'missing', networks } : { action: 'none' };
  }
  if (BigInt(member.modRevision) > revision) {
    return { action: 'skip', reason: 'new' };
  }
  if ((use?.foreign.length ?? 0) > 0) {
    return { action: 'keep', refs: member.record.refs, reason: 'foreign-network' };
  }
  if (networks.length === 0) {
    return { action: 'delete', member };
  }
  if (member.record.refs !== networks.length) {
    return { action: 'set-refs', member, from: member.record.refs, to: networks.length };
  }
  return { action: 'keep', refs: member.record.refs, reason: 'in-use' };
}

/**
 * Whether to delete a pool: only with no member left, and (in a pass) never one that a local
 * Docker network still uses, members or not. The deletion itself compares the membership range.
 */
export function planPoolDeletion(
  membersLeft: number,
  use: PoolUse | undefined,
): 'delete' | 'has-members' | 'used-locally' {
  if (membersLeft > 0) {
    return 'has-members';
  }
  if ((use?.networks.length ?? 0) > 0 || (use?.foreign.length ?? 0) > 0) {
    return 'used-locally';
  }
  return 'delete';
}
