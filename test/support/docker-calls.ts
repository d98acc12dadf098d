// The allocators' requests as Docker spells them (strings, an options map), parsed by the
// plugin's own wire parsers (apps/ipam/src/plugin/docker-fields.ts): integration tests drive the
// allocators with what dockerd sends, without a socket in between.
import {
  InvalidRequest,
  type AddressReply,
  type AddressRequest,
  type PoolReply,
  type PoolRequest,
  type ReleaseAddressRequest,
} from '#app/ipam';
import type { AddressAllocator, PoolAllocator } from '#app/allocator';

import {
  addressOptions,
  addressSpace,
  type FieldParser,
  optionalAddress,
  optionalCidr,
  poolOptions,
  requiredAddress,
} from '../../apps/ipam/src/plugin/docker-fields.js';
import { toAddressRequest, toPoolRequest } from '../../apps/ipam/src/plugin/ipam.dto.js';

/** RequestPool's body: `AddressSpace`, `Pool`, `SubPool`, `Options`, `V6`. */
export interface DockerPoolRequest {
  addressSpace?: string;
  pool?: string;
  subPool?: string;
  options: Record<string, string>;
  v6: boolean;
}

let macs = 0;

/**
 * A container's RequestAddress options as dockerd sends them to a plugin that asks for MACs
 * (`RequiresMACAddress`): its MAC, a new one per call unless given. A static request without
 * options is an `--aux-address`.
 */
export function containerOptions(mac?: string): Record<string, string> {
  const n = ++macs;
  const generated = `02:42:${[n >> 24, n >> 16, n >> 8, n].map((b) => (b & 255).toString(16).padStart(2, '0')).join(':')}`;
  return { 'com.docker.network.endpoint.macaddress': mac ?? generated };
}

/** RequestAddress's body: `PoolID`, `Address`, `Options`. */
export interface DockerAddressRequest {
  poolId: string;
  address?: string;
  options: Record<string, string>;
}

/** ReleaseAddress's body. */
export interface DockerReleaseAddressRequest {
  poolId: string;
  address: string;
}

function parse<T>(parser: FieldParser<T>, value: unknown, field: string): T {
  const result = parser(value, field);
  if ('error' in result) {
    throw new InvalidRequest(result.error);
  }
  return result.value;
}

// Mapped to the allocators' requests by the controller's own functions, so that a field the
// plugin passes on reaches these tests too.
export function poolRequest(r: DockerPoolRequest): PoolRequest {
  return toPoolRequest({
    AddressSpace: parse(addressSpace, r.addressSpace, 'AddressSpace'),
    Pool: parse(optionalCidr, r.pool, 'Pool'),
    SubPool: parse(optionalCidr, r.subPool, 'SubPool'),
    Options: parse(poolOptions, r.options, 'Options'),
    V6: r.v6,
  });
}

export function addressRequest(r: DockerAddressRequest): AddressRequest {
  const dto = {
    PoolID: r.poolId,
    Address: parse(optionalAddress, r.address, 'Address'),
    Options: parse(addressOptions, r.options, 'Options'),
  };
  // A dockerd that was told RequiresMACAddress, as every dockerd that activates this version.
  return toAddressRequest(dto, true);
}

export function releaseAddressRequest(r: DockerReleaseAddressRequest): ReleaseAddressRequest {
  return { poolId: r.poolId, address: parse(requiredAddress, r.address, 'Address') };
}

/** PoolAllocator as Docker calls it. */
export interface DockerPools {
  requestPool(r: DockerPoolRequest): Promise<PoolReply>;
  releasePool(poolId: string): Promise<void>;
}

/** AddressAllocator as Docker calls it. */
export interface DockerAddresses {
  requestAddress(r: DockerAddressRequest): Promise<AddressReply>;
  releaseAddress(r: DockerReleaseAddressRequest): Promise<void>;
}

export function dockerPools(pools: PoolAllocator): DockerPools {
  return {
    requestPool: async (r) => pools.requestPool(poolRequest(r)),
    releasePool: (poolId) => pools.releasePool(poolId),
  };
}

export function dockerAddresses(addresses: AddressAllocator): DockerAddresses {
  return {
    requestAddress: async (r) => addresses.requestAddress(addressRequest(r)),
    releaseAddress: async (r) => addresses.releaseAddress(releaseAddressRequest(r)),
  };
}
