import type { AddressRequest, AddressSpace, PoolRequest, ReleaseAddressRequest } from '#app/ipam';
import type { Addr, Prefix } from '#app/net';

import {
  type AddressOptions,
  addressOptions,
  addressSpace,
  Field,
  optionalAddress,
  optionalBoolean,
  optionalCidr,
  poolId,
  type PoolOptions,
  poolOptions,
  requiredAddress,
} from './docker-fields.js';

/*
 * Request and reply bodies exactly as libnetwork's remote IPAM API spells them
 * (moby/libnetwork ipams/remote/api/api.go). Each field is parsed once, as the body becomes the
 * DTO (docker-fields.ts); fields Docker may add later are ignored. A class field initializer is
 * the value of a field the body leaves out.
 */

export type OptionMap = Record<string, string>;

export class RequestPoolDto {
  /** "kontenalocal" or "kontenaglobal": whether dockerd checks the pool against this host. */
  @Field(addressSpace)
  AddressSpace?: AddressSpace;

  @Field(optionalCidr)
  Pool?: Prefix;

  @Field(optionalCidr)
  SubPool?: Prefix;

  @Field(poolOptions)
  Options: PoolOptions = {};

  @Field(optionalBoolean)
  V6 = false;
}

export interface RequestPoolReply {
  PoolID: string;
  Pool: string;
  Data: OptionMap;
}

export class ReleasePoolDto {
  @Field(poolId)
  PoolID: string;
}

export class RequestAddressDto {
  @Field(poolId)
  PoolID: string;

  @Field(optionalAddress)
  Address?: Addr;

  @Field(addressOptions)
  Options: AddressOptions = { gateway: false };
}

export interface RequestAddressReply {
  Address: string;
  Data: OptionMap;
}

export class ReleaseAddressDto {
  @Field(poolId)
  PoolID: string;

  @Field(requiredAddress)
  Address: Addr;
}

export function toPoolRequest(dto: RequestPoolDto): PoolRequest {
  return {
    ...(dto.AddressSpace ? { addressSpace: dto.AddressSpace } : {}),
    ...(dto.Pool ? { subnet: dto.Pool } : {}),
    ...(dto.SubPool ? { range: dto.SubPool } : {}),
    ...(dto.Options.network !== undefined ? { network: dto.Options.network } : {}),
    ...(dto.Options.subnetLength !== undefined ? { subnetLength: dto.Options.subnetLength } : {}),
    ...(dto.Options.subnet6Length !== undefined
      ? { subnet6Length: dto.Options.subnet6Length }
      : {}),
    ...(dto.Options.exclude !== undefined ? { exclude: dto.Options.exclude } : {}),
    v6: dto.V6,
  };
}

/** `macsRequested`: dockerd was told to send MACs (MacCapability). */
export function toAddressRequest(dto: RequestAddressDto, macsRequested: boolean): AddressRequest {
  return {
    poolId: dto.PoolID,
    ...(dto.Address ? { address: dto.Address } : {}),
    gateway: dto.Options.gateway,
    ...(dto.Options.endpointName !== undefined ? { endpointName: dto.Options.endpointName } : {}),
    ...(dto.Options.mac !== undefined ? { mac: dto.Options.mac } : {}),
    macsRequested,
  };
}

export function toReleaseAddressRequest(dto: ReleaseAddressDto): ReleaseAddressRequest {
  return { poolId: dto.PoolID, address: dto.Address };
}
