import { beforeAll, describe, expect, it } from 'vitest';
import { Logger } from '@nestjs/common';
import { loadConfig } from '#app/config';
import { AddressOutOfRange, PoolNotFound, type AddressRequest } from '#app/ipam';
import { Addr } from '#app/net';
import type {
  AddressFeedHandler,
  AddressRecord,
  AllocationStore,
  ReserveResult,
  StoredPool,
} from '#app/store';
import { AddressAllocator } from './address-allocator.js';
import { PoolStates } from './pool-states.js';

const pool = (subnet: string, createRevision: string): StoredPool => ({
  id: 'blue',
  record: { subnet, gateway: subnet.replace(/\.0\//, '.1/') },
  createRevision,
});

/**
 * etcd as far as the allocator reads and writes it, with no watch that ever tells anything: what
 * the allocator answers after `etcd.pool` changes can only come from reading it again.
 */
class Etcd {
  pool: StoredPool | undefined;
  /** IP → the create revision of the pool it was reserved in */
  readonly addresses = new Map<string, string>();
  reads = 0;

  reserve(p: StoredPool, ip: string): ReserveResult {
    if (this.pool?.createRevision !== p.createRevision) {
      return { kind: 'pool-gone' };
    }
    if (this.addresses.has(ip)) {
      const record = { address: ip, node: 'other' };
      return { kind: 'taken', existing: { ip, record, createRevision: '1', modRevision: '1' } };
    }
    this.addresses.set(ip, p.createRevision);
    return { kind: 'reserved' };
  }

  store(): AllocationStore {
    const never = { stale: false, sync: () => Promise.resolve(), close: () => Promise.resolve() };
    return {
      deadline: () => Date.now() + 10_000,
      getPool: () => {
        this.reads++;
        return Promise.resolve(this.pool);
      },
      openPoolFeed: () => never,
      openAddressFeed: (_id: string, handler: AddressFeedHandler) => ({
        ...never,
        sync: () => {
          handler.reset([...this.addresses.keys()]);
          return Promise.resolve();
        },
      }),
      countAddresses: (_id: string, withins: string[]) => Promise.resolve(withins.map(() => 0)),
      reserveAddress: (p: StoredPool, ip: string) => Promise.resolve(this.reserve(p, ip)),
      reserveAddresses: (p: StoredPool, wanted: { ip: string; record: AddressRecord }[]) =>
        Promise.resolve(wanted.map((w) => this.reserve(p, w.ip))),
    } as unknown as AllocationStore;
  }
}

function allocator(etcd: Etcd): AddressAllocator {
  const config = loadConfig({ NODE_ID: 'unit', ETCD_ENDPOINT: 'http://etcd-1:2379' });
  const store = etcd.store();
  return new AddressAllocator(store, new PoolStates(store, config), config);
}

const request = (r: { address?: string; gateway?: boolean }): AddressRequest => ({
  poolId: 'blue',
  gateway: r.gateway ?? false,
  ...(r.address ? { address: Addr.parse(r.address) } : {}),
});

describe('AddressAllocator on a pool that changed under what it knows', () => {
  beforeAll(() => Logger.overrideLogger(false));

  /** The allocator has used pool v1; then etcd holds `now` under the same name. */
  async function usedThen(v1: StoredPool, now: StoredPool | undefined) {
    const etcd = new Etcd();
    etcd.pool = v1;
    const alloc = allocator(etcd);
    await alloc.requestAddress(request({}));
    etcd.pool = now;
    etcd.reads = 0;
    return { etcd, alloc };
  }

  it('should reserve a static address of the pool that exists, not refuse it for the old subnet', async () => {
    const { alloc } = await usedThen(pool('10.90.0.0/24', '5'), pool('10.91.0.0/24', '9'));
    expect(await alloc.requestAddress(request({ address: '10.91.0.5' }))).toEqual({
      address: '10.91.0.5/24',
      data: {},
    });
  });

  it("should refuse the old subnet's gateway once the pool is another", async () => {
    const { alloc } = await usedThen(pool('10.90.0.0/24', '5'), pool('10.91.0.0/24', '9'));
    await expect(
      alloc.requestAddress(request({ address: '10.90.0.1', gateway: true })),
    ).rejects.toThrow(AddressOutOfRange);
    expect(await alloc.requestAddress(request({ gateway: true }))).toEqual({
      address: '10.91.0.1/24',
      data: {},
    });
  });

  it.each([
    { name: 'any gateway', r: request({ gateway: true }) },
    { name: 'its gateway by address', r: request({ address: '10.90.0.1', gateway: true }) },
    { name: 'an address outside it', r: request({ address: '10.99.0.1' }) },
  ])('should answer PoolNotFound for $name of a pool that is gone', async ({ r }) => {
    const { alloc } = await usedThen(pool('10.90.0.0/24', '5'), undefined);
    await expect(alloc.requestAddress(r)).rejects.toThrow(PoolNotFound);
  });

  it('should not call the pool that exists exhausted because the old one was full', async () => {
    // v1 is a /30: .1 the gateway, .2 the address it handed out; full.
    const { alloc } = await usedThen(pool('10.90.0.0/30', '5'), pool('10.90.0.0/24', '9'));
    const reply = await alloc.requestAddress(request({}));
    expect(reply.address).toMatch(/^10\.90\.0\.\d+\/24$/);
  });

  it('should read the pool once more before a 400, and not for one it has just read', async () => {
    const etcd = new Etcd();
    etcd.pool = pool('10.90.0.0/24', '5');
    const alloc = allocator(etcd);
    // First use: the pool is read for this request; the 400 needs no second read.
    await expect(alloc.requestAddress(request({ address: '10.91.0.1' }))).rejects.toThrow(
      AddressOutOfRange,
    );
    expect(etcd.reads).toBe(1);
    await expect(alloc.requestAddress(request({ address: '10.91.0.1' }))).rejects.toThrow(
      AddressOutOfRange,
    );
    expect(etcd.reads).toBe(2);
  });
});
