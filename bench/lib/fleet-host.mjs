// One simulated host of the fleet benchmark: the plugin's own allocators (built, from dist/) with
// their own etcd client, NODE_ID, watches and in-memory state, in the calling process. Keep the
// bootstrapping in startHost alone: when the config or store API changes, only it changes.
// (@nestjs/common, imported first, loads reflect-metadata.)
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import {
  AddressAllocator,
  AllocatorModule,
  PoolAllocator,
} from '../../dist/libs/allocator/src/index.js';
import { IpamConfigModule } from '../../dist/libs/config/src/index.js';
import { AllocationStore } from '../../dist/libs/store/src/index.js';

/**
 * @typedef {object} HostCounters   what the host's store did, counted in the bench process
 * @property {number} txns          reservation transactions (one per batch)
 * @property {number} batchTxns     of those, batched ones (reserveAddresses)
 * @property {number} candidates    addresses tried (one per nested transaction)
 * @property {number} reserved
 * @property {number} taken         compare failures: the address was somebody else's already
 * @property {number} poolGone
 * @property {number} lists         address feed lists (first list and re-lists)
 * @property {number} listedKeys    keys those lists returned
 * @property {number} added         watch events delivered: puts
 * @property {number} removed       watch events delivered: deletes
 * @property {Record<string, [number, number]>} byPool  pool id → [reserved, taken]
 */

/**
 * @typedef {object} FleetHost
 * @property {string} nodeId
 * @property {PoolAllocator} pools
 * @property {AddressAllocator} addresses
 * @property {HostCounters} counters
 * @property {() => Promise<void>} close
 */

/**
 * Starts one host: IpamConfigModule + AllocatorModule in a Nest application context of its own,
 * Nest's logger off, as bench/run.mjs's inProcessAllocator does.
 * @param {{ nodeId: string, endpoints: string[], prefix: string }} opts
 * @returns {Promise<FleetHost>}
 */
export async function startHost(opts) {
  class FleetHostModule {}
  Module({
    imports: [
      IpamConfigModule.forRoot({
        NODE_ID: opts.nodeId,
        ETCD_ENDPOINT: opts.endpoints.join(','),
        ETCD_PREFIX: opts.prefix,
        KONTENA_IPAM_AVOID_HOST_ROUTES: 'false',
      }),
      AllocatorModule,
    ],
  })(FleetHostModule);
  const app = await NestFactory.createApplicationContext(FleetHostModule, { logger: false });
  return {
    nodeId: opts.nodeId,
    pools: app.get(PoolAllocator),
    addresses: app.get(AddressAllocator),
    counters: instrument(app.get(AllocationStore)),
    close: () => app.close(),
  };
}

/** @returns {HostCounters} */
export function zeroCounters() {
  return {
    txns: 0,
    batchTxns: 0,
    candidates: 0,
    reserved: 0,
    taken: 0,
    poolGone: 0,
    lists: 0,
    listedKeys: 0,
    added: 0,
    removed: 0,
    byPool: {},
  };
}

/**
 * Counts this store's reservations, their outcomes and what its address feeds receive, by
 * wrapping the methods the allocator calls on this one instance (bench only: the plugin does not
 * pay for counting).
 * @param {AllocationStore} store
 * @returns {HostCounters}
 */
function instrument(store) {
  const c = zeroCounters();
  /**
   * @param {{ id: string }} pool
   * @param {{ kind: string }} r
   */
  const outcome = (pool, r) => {
    const byPool = (c.byPool[pool.id] ??= [0, 0]);
    if (r.kind === 'reserved') {
      c.reserved++;
      byPool[0]++;
    } else if (r.kind === 'taken') {
      c.taken++;
      byPool[1]++;
    } else {
      c.poolGone++;
    }
  };
  const reserveAddress = store.reserveAddress.bind(store);
  store.reserveAddress = async (pool, ...rest) => {
    c.txns++;
    c.candidates++;
    const r = await reserveAddress(pool, ...rest);
    outcome(pool, r);
    return r;
  };
  const reserveAddresses = store.reserveAddresses.bind(store);
  store.reserveAddresses = async (pool, wanted, deadline) => {
    c.txns++;
    c.batchTxns++;
    c.candidates += wanted.length;
    const rs = await reserveAddresses(pool, wanted, deadline);
    rs.forEach((r) => outcome(pool, r));
    return rs;
  };
  const openAddressFeed = store.openAddressFeed.bind(store);
  store.openAddressFeed = (poolId, handler, ...rest) =>
    openAddressFeed(
      poolId,
      {
        reset: (ips) => {
          c.lists++;
          c.listedKeys += ips.length;
          handler.reset(ips);
        },
        added: (ip) => {
          c.added++;
          handler.added(ip);
        },
        removed: (ip) => {
          c.removed++;
          handler.removed(ip);
        },
      },
      ...rest,
    );
  return c;
}
