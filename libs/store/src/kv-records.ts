import type { IKeyValue, IResponseOp } from 'etcd3';
import type { KeyLayout } from './keys.js';
import {
  decodeRecord,
  type AddressRecord,
  type MemberRecord,
  type PoolRecord,
  type RegistrationRecord,
  type StoredAddress,
  type StoredMember,
  type StoredPool,
  type StoredRegistration,
  type StoredSubnet,
  type SubnetRecord,
} from './records.js';

// Between etcd's key/values and the records of records.ts, for the stores.

export const buf = (s: string): Buffer => Buffer.from(s);
export const json = (v: object): Buffer => Buffer.from(JSON.stringify(v));

/** The key/values of a range response inside a transaction (none for another kind). */
export function rangeKvs(op: IResponseOp | undefined): IKeyValue[] {
  return op?.response_range?.kvs ?? [];
}

export function toPool(id: string, kv: IKeyValue): StoredPool {
  const record = decodeRecord<PoolRecord>(kv.value) ?? { subnet: '', gateway: '' };
  return { id, record, createRevision: kv.create_revision };
}

export function toAddress(ip: string, kv: IKeyValue): StoredAddress {
  const record = decodeRecord<AddressRecord>(kv.value) ?? { address: ip, node: '' };
  return { ip, record, createRevision: kv.create_revision, modRevision: kv.mod_revision };
}

export function toMember(kv: IKeyValue): StoredMember {
  const record = decodeRecord<MemberRecord>(kv.value);
  const refs = typeof record?.refs === 'number' && record.refs > 0 ? record.refs : 1;
  return {
    record: { ...record, refs },
    modRevision: kv.mod_revision,
    createRevision: kv.create_revision,
  };
}

/** The subnet a key/value under `subnets/` holds; undefined for a key or value that is not one. */
export function toSubnet(keys: KeyLayout, kv: IKeyValue): StoredSubnet | undefined {
  const key = keys.parse(kv.key.toString());
  const record = decodeRecord<SubnetRecord>(kv.value);
  return key.kind === 'subnet' && record ? { network: key.network, record } : undefined;
}

/** The registration a key/value under `nodes/` holds; undefined for a key that is not one. */
export function toRegistration(keys: KeyLayout, kv: IKeyValue): StoredRegistration | undefined {
  const key = keys.parse(kv.key.toString());
  if (key.kind !== 'registration') {
    return undefined;
  }
  const record = decodeRecord<Partial<RegistrationRecord>>(kv.value);
  return {
    node: key.node,
    instance: key.instance,
    ...(record ? { record } : {}),
    createRevision: kv.create_revision,
  };
}

/** How many nonces of earlier writes a membership keeps (MemberRecord.reqs). */
const MEMBER_NONCES = 8;

/** A membership value written by `nonce`, keeping the nonces of the latest earlier writes. */
export function memberValue(refs: number, nonce: string, previous?: MemberRecord): Buffer {
  const earlier = Array.isArray(previous?.reqs)
    ? previous.reqs
    : previous?.req
      ? [previous.req]
      : [];
  return json({ refs, req: nonce, reqs: [nonce, ...earlier].slice(0, MEMBER_NONCES) });
}

/** True when the membership as it is now was written, or recently written, by `nonce`. */
export function memberWrittenBy(kv: IKeyValue | undefined, nonce: string): boolean {
  const record = kv ? decodeRecord<MemberRecord>(kv.value) : undefined;
  return record?.req === nonce || (Array.isArray(record?.reqs) && record.reqs.includes(nonce));
}
