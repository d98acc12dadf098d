/** JSON values stored under the keys of keys.ts. New fields are additive. */

export interface PoolRecord {
  subnet: string;
  iprange?: string;
  gateway: string;
  /** `--ipam-opt exclude`: canonical prefixes, sorted, never handed out dynamically. */
  exclude?: string[];
  /** Nonce of the write that created the pool: lets a retried commit recognise itself. */
  req?: string;
}

export interface SubnetRecord {
  address: string;
  pool: string;
  req?: string;
}

/**
 * `gateway` and `aux` are the network's (every node that asks for them is granted them, and they
 * go with the pool); `endpoint` is a container's. A record may carry a kind of a later version:
 * whoever does not know it leaves the record alone (libs/store/README.md, "Keys").
 */
export type AddressKind = 'gateway' | 'aux' | 'endpoint';

/** The kinds this version knows; a record without `type` is an `endpoint` of an older one. */
export const ADDRESS_KINDS: readonly AddressKind[] = ['gateway', 'aux', 'endpoint'];

export interface AddressRecord {
  /** `<ip>/<pool prefix length>` */
  address: string;
  node: string;
  type?: AddressKind;
  /** Docker's endpoint (container) name, sent by Engine ≥ 29. */
  name?: string;
  /** The endpoint's MAC address (lower case): a repeated request of it gets the same address. */
  mac?: string;
  req?: string;
}

export interface MemberRecord {
  refs: number;
  req?: string;
  /**
   * Nonces of the latest writes, newest first (bounded): a retried commit recognises itself even
   * when another call of the same node changed the membership before the retry.
   */
  reqs?: string[];
}

/**
 * A running plugin's registration under its NODE_ID (node-registration.ts), on a lease that it
 * keeps alive: liveness only, never used for allocations.
 */
export interface RegistrationRecord {
  /** the host name of the plugin's host */
  host: string;
  pid: number;
  /** when the plugin started (ISO 8601) */
  started: string;
  /** the plugin's version */
  version: string;
  /** the lease's TTL in seconds, as etcd granted it: how long a dead plugin's registration lasts */
  ttl: number;
}

/** What a cleanup pass did, counted (apps/cleanup's report totals). */
export interface CleanupTotals {
  /** addresses kept, freed and skipped */
  kept: number;
  freed: number;
  skipped: number;
  membershipsDeleted: number;
  refsSet: number;
  poolsDeleted: number;
}

/**
 * The last successful cleanup pass of one NODE_ID (`cleanup-passes/<NODE_ID>`), overwritten by
 * each: an operator sees a node whose cleanup job stopped running (`kontena-ipam-ctl show`).
 */
export interface CleanupPassRecord extends CleanupTotals {
  /** when the pass ended (ISO 8601) */
  time: string;
  /** the etcd revision R the pass compared against */
  revision: string;
}

/** A registration as listed, with the key's create revision. */
export interface StoredRegistration {
  node: string;
  instance: string;
  /** undefined when the value is not a registration's (the consistency check reports it) */
  record?: Partial<RegistrationRecord>;
  createRevision: string;
}

/** A pool as read from etcd, with the revision its transactions compare against. */
export interface StoredPool {
  id: string;
  record: PoolRecord;
  createRevision: string;
}

export interface StoredMember {
  record: MemberRecord;
  modRevision: string;
  /** Tells a membership deleted and taken again apart from the one that was read. */
  createRevision?: string;
}

/** One node's membership of a pool, as listed by the cleanup. */
export interface NodeMember extends StoredMember {
  node: string;
}

export interface StoredAddress {
  ip: string;
  record: AddressRecord;
  createRevision: string;
  modRevision: string;
}

export interface StoredSubnet {
  network: string;
  record: SubnetRecord;
}

/**
 * Parses a stored JSON value; a value that is not an object yields undefined rather than
 * throwing. Fields are trusted as far as their JSON types: every writer is this code.
 */
// oxlint-disable-next-line typescript/no-unnecessary-type-parameters -- the caller names the record type
export function decodeRecord<T extends object>(raw: Buffer | string | undefined): T | undefined {
  if (raw === undefined) {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(raw.toString());
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- see above
        (value as T)
      : undefined;
  } catch {
    return undefined;
  }
}
