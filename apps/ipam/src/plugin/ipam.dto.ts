import type { AddressRequest, PoolRequest, ReleaseAddressRequest } from '#app/allocator';

import {
  Check,
  optionalAddress,
  optionalBoolean,
  optionalCidr,
  optionMap,
  optionalString,
  poolId,
  requiredAddress,
} from './docker-validators.js';

/*
 * Request and reply bodies exactly as libnetwork's remote IPAM API spells them
 * (ipams/remote/api/api.go, spec A.2). Fields Docker may add later are ignored.
 */

export type OptionMap = Record<string, string>;

export class RequestPoolDto {
  /** "kontenalocal" or "kontenaglobal"; informational only. */
  @Check(optionalString)
  AddressSpace?: string | null;

  @Check(optionalCidr)
  Pool?: string | null;

  @Check(optionalCidr)
  SubPool?: string | null;

  @Check(optionMap)
  Options?: OptionMap | null;

  @Check(optionalBoolean)
  V6?: boolean | null;
}

export interface RequestPoolReply {
  PoolID: string;
  Pool: string;
  Data: OptionMap;
}

export class ReleasePoolDto {
  @Check(poolId)
  PoolID: string;
}

export class RequestAddressDto {
  @Check(poolId)
  PoolID: string;

  @Check(optionalAddress)
  Address?: string | null;

  @Check(optionMap)
  Options?: OptionMap | null;
}

export interface RequestAddressReply {
  Address: string;
  Data: OptionMap;
}

export class ReleaseAddressDto {
  @Check(poolId)
  PoolID: string;

  @Check(requiredAddress)
  Address: string;
}

/** Docker sends "" for "not set" and null for an empty option map. */
function present(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

export function toPoolRequest(dto: RequestPoolDto): PoolRequest {
  return {
    pool: present(dto.Pool),
    subPool: present(dto.SubPool),
    options: { ...dto.Options },
    v6: dto.V6 ?? false,
  };
}

export function toAddressRequest(dto: RequestAddressDto): AddressRequest {
  return { poolId: dto.PoolID, address: present(dto.Address), options: { ...dto.Options } };
}

export function toReleaseAddressRequest(dto: ReleaseAddressDto): ReleaseAddressRequest {
  return { poolId: dto.PoolID, address: dto.Address };
}
