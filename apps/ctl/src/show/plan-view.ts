import { Prefix, supernetUsage } from '#app/net';
import type { IpamConfig, SupernetConfig } from '#app/config';
import type { CleanupPassRecord, StoredPlan } from '#app/store';

/** What `kontena-ipam-ctl show` shows: the plan of the cluster at one revision, as plain data. */

export type FamilyName = 'ipv4' | 'ipv6';

export interface PoolRow {
  id: string;
  family: FamilyName;
  subnet: string;
  ipRange?: string;
  /** the gateway's IP, without its length */
  gateway?: string;
  /** the nodes that are members, with their reference counts, by node */
  nodes: { node: string; refs: number }[];
  /** address keys held: endpoints, gateways, aux reservations */
  allocated: bigint;
  /** host addresses of the subnet: IPv4 without network and broadcast, IPv6 without the first */
  size: bigint;
  free: bigint;
}

export interface SupernetRow {
  family: FamilyName;
  supernet: string;
  subnetLength: number;
  /** subnets of subnetLength in the supernet */
  subnets: bigint;
  /** pools whose subnet lies in the supernet */
  carved: bigint;
  /** subnets of subnetLength that overlap no pool */
  free: bigint;
}

export interface NodeRow {
  node: string;
  /** running plugins registered under this NODE_ID */
  plugins: { host?: string; pid?: number; version?: string; started?: string }[];
  /** pools this node is a member of */
  pools: number;
  /** its last successful cleanup pass, if one was ever recorded */
  lastCleanupPass?: Partial<CleanupPassRecord>;
}

export interface PlanView {
  prefix: string;
  revision: string;
  pools: PoolRow[];
  supernets: SupernetRow[];
  nodes: NodeRow[];
}

export const familyName = (p: Prefix): FamilyName => (p.family === 4 ? 'ipv4' : 'ipv6');

/**
 * The supernets `show` counts: every entry of KONTENA_IPAM_SUPERNET, then those of
 * KONTENA_IPAM_SUPERNET6, or else the cluster's IPv6 supernet once a node chose it.
 */
export function supernetsShown(
  config: Pick<IpamConfig, 'supernets' | 'supernets6' | 'subnet6Length'>,
  plan: Pick<StoredPlan, 'supernet6'>,
): SupernetConfig[] {
  const v6 =
    config.supernets6 ??
    (plan.supernet6 === undefined
      ? []
      : [{ supernet: plan.supernet6, subnetLength: config.subnet6Length }]);
  return [...config.supernets, ...v6];
}

/** The view of a plan read from etcd; a pool whose subnet does not parse shows as size 0. */
export function planView(
  plan: StoredPlan,
  prefix: string,
  supernets: readonly SupernetConfig[],
): PlanView {
  const subnets: Prefix[] = [];
  const pools = plan.pools.map((stored): PoolRow => {
    const subnet = Prefix.tryParse(stored.record.subnet);
    if (subnet) {
      subnets.push(subnet);
    }
    const allocated = BigInt(plan.addressCounts.get(stored.id) ?? 0);
    const size = subnet ? subnet.hostCount() : 0n;
    const gateway = stored.record.gateway ? stored.record.gateway.split('/')[0] : undefined;
    return {
      id: stored.id,
      family: subnet ? familyName(subnet) : 'ipv4',
      subnet: stored.record.subnet,
      ...(stored.record.iprange ? { ipRange: stored.record.iprange } : {}),
      ...(gateway ? { gateway } : {}),
      nodes: plan.members
        .filter((m) => m.pool === stored.id)
        .map(({ node, refs }) => ({ node, refs }))
        .sort((a, b) => compareText(a.node, b.node)),
      allocated,
      size,
      free: size > allocated ? size - allocated : 0n,
    };
  });
  return {
    prefix,
    revision: plan.revision,
    pools,
    supernets: supernets.flatMap((s) => {
      const supernet = Prefix.tryParse(s.supernet);
      return supernet ? [supernetRow(supernet, s.subnetLength, subnets)] : [];
    }),
    nodes: nodeRows(plan),
  };
}

/** A supernet's line of `show`: {@link supernetUsage} (libs/net) of the pools. */
export function supernetRow(
  supernet: Prefix,
  subnetLength: number,
  pools: readonly Prefix[],
): SupernetRow {
  return {
    family: familyName(supernet),
    supernet: supernet.toString(),
    subnetLength,
    ...supernetUsage(supernet, subnetLength, pools),
  };
}

/** Every node that is a member, has a running plugin or has recorded a cleanup pass. */
function nodeRows(plan: StoredPlan): NodeRow[] {
  const rows = new Map<string, NodeRow>();
  const row = (node: string): NodeRow => {
    let r = rows.get(node);
    if (!r) {
      r = { node, plugins: [], pools: 0 };
      rows.set(node, r);
    }
    return r;
  };
  for (const m of plan.members) {
    row(m.node).pools++;
  }
  for (const r of plan.registrations) {
    const { host, pid, version, started } = r.record ?? {};
    row(r.node).plugins.push({ host, pid, version, started });
  }
  for (const pass of plan.cleanupPasses) {
    row(pass.node).lastCleanupPass = pass.record;
  }
  return [...rows.values()].sort((a, b) => compareText(a.node, b.node));
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
