import { describe, expect, it } from 'vitest';
import { Addr, Prefix } from '#app/net';
import { PoolExhausted } from '#app/ipam';
import {
  RequestRefused,
  StoreUnavailable,
  type AddressRecord,
  type AllocationStore,
  type ReserveResult,
  type StoredPool,
} from '#app/store';
import { AddressBatch, type BatchPool } from './address-batch.js';
import { FreeSet } from './free-set.js';
import type { Widened } from './pool-view.js';

const SUBNET = '10.0.0.0/28'; // .0 network, .1 gateway, .15 broadcast: 13 to hand out
const BASE = Prefix.parse(SUBNET).network().value;

/** What etcd holds: IP → owning nonce ("other" for somebody else's). */
type Etcd = Map<string, string>;

/** A local view like AddressAllocator's PoolState, over a FreeSet, fed from `etcd` on sync. */
class FakePool implements BatchPool {
  readonly subnet = Prefix.parse(SUBNET);
  readonly pool: StoredPool = {
    id: 'p',
    record: { subnet: SUBNET, gateway: '10.0.0.1/28' },
    createRevision: '7',
  };
  readonly free = new FreeSet(16);
  readonly stale = false;
  /** How often the batch read more of the pool (widen). */
  syncs = 0;
  /** What the next widenings report; then 'relisted'. */
  widenings: Widened[] = [];
  /** The deadlines the batch gave each sync and widening. */
  readonly syncDeadlines: number[] = [];

  constructor(private readonly etcd: Etcd) {
    this.reset();
  }

  reset(): void {
    this.free.clear();
    for (const i of [0, 1, 15]) {
      this.free.take(i);
    }
    for (const ip of this.etcd.keys()) {
      this.free.take(Number(Addr.parse(ip).value - BASE));
    }
  }

  sync(deadline: number): Promise<void> {
    this.syncDeadlines.push(deadline);
    this.reset();
    return Promise.resolve();
  }

  widen(deadline: number): Promise<Widened> {
    this.syncDeadlines.push(deadline);
    this.syncs++;
    this.reset();
    return Promise.resolve(this.widenings.shift() ?? 'relisted');
  }

  nextCandidate(): Addr | undefined {
    const i = this.free.nextFree(0);
    if (i < 0) {
      return undefined;
    }
    this.free.take(i);
    return Addr.fromBigInt(4, BASE + BigInt(i));
  }

  releaseLocally(value: bigint): void {
    this.free.release(Number(value - BASE));
  }
}

/** A store that decides like etcd's compares, over `etcd`, and records its transactions. */
function fakeStore(
  etcd: Etcd,
  opts: { poolGone?: boolean; fail?: Error; refuse?: (r: AddressRecord) => boolean } = {},
) {
  const calls: string[][] = [];
  const decide = (ip: string, nonce: string): ReserveResult => {
    if (opts.poolGone) {
      return { kind: 'pool-gone' };
    }
    const owner = etcd.get(ip);
    if (owner === undefined) {
      etcd.set(ip, nonce);
      return { kind: 'reserved' };
    }
    return {
      kind: 'taken',
      existing: { ip, record: { address: ip, node: owner }, createRevision: '1', modRevision: '1' },
    };
  };
  const store = {
    reserveAddress: (_pool: StoredPool, ip: string, r: AddressRecord, nonce: string) => {
      calls.push([ip]);
      if (opts.refuse?.(r)) {
        return Promise.reject(new RequestRefused('etcd refused the request as invalid'));
      }
      return opts.fail ? Promise.reject(opts.fail) : Promise.resolve(decide(ip, nonce));
    },
    reserveAddresses: (
      _pool: StoredPool,
      wanted: { ip: string; record: AddressRecord; nonce: string }[],
    ) => {
      calls.push(wanted.map((w) => w.ip));
      expect(new Set(wanted.map((w) => w.ip)).size).toBe(wanted.length);
      for (const w of wanted) {
        expect(w.record.address).toBe(`${w.ip}/28`);
      }
      if (wanted.some((w) => opts.refuse?.(w.record))) {
        return Promise.reject(new RequestRefused('etcd refused the request as invalid'));
      }
      return opts.fail
        ? Promise.reject(opts.fail)
        : Promise.resolve(wanted.map((w) => decide(w.ip, w.nonce)));
    },
  };
  return { store: store as unknown as AllocationStore, calls };
}

function setup(etcd: Etcd = new Map(), opts: Parameters<typeof fakeStore>[1] = {}) {
  const pool = new FakePool(etcd);
  const { store, calls } = fakeStore(etcd, opts);
  const reserved: string[] = [];
  const batch = new AddressBatch('p', pool, store, (addr) => reserved.push(addr.toString()));
  let n = 0;
  const allocate = (deadline = Date.now() + 10_000, name?: string) =>
    batch.allocate(
      { address: '', node: 'me', type: 'endpoint', ...(name ? { name } : {}) },
      `nonce-${n++}`,
      deadline,
    );
  return { pool, calls, reserved, allocate, etcd };
}

/** Orders transactions (lists of IPs) by their text. */
const byText = (a: string[], b: string[]): number => a.join().localeCompare(b.join());

const ips = (addrs: (Addr | undefined)[]): string[] => addrs.map((a) => a?.toString() ?? '-');

describe('AddressBatch', () => {
  it('should reserve requests that arrive together in one transaction, a lone one alone', async () => {
    const t = setup();
    const got = await Promise.all([t.allocate(), t.allocate(), t.allocate()]);
    expect(ips(got)).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4']);
    expect(t.calls).toEqual([['10.0.0.2', '10.0.0.3', '10.0.0.4']]);
    expect(ips([await t.allocate()])).toEqual(['10.0.0.5']);
    expect(t.calls).toHaveLength(2);
    expect(t.reserved).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
  });

  it('should send an address taken meanwhile round again with the next candidate', async () => {
    const etcd: Etcd = new Map();
    const t = setup(etcd);
    etcd.set('10.0.0.3', 'other'); // written by another node after our list
    const got = await Promise.all([t.allocate(), t.allocate(), t.allocate()]);
    expect(ips(got)).toEqual(['10.0.0.2', '10.0.0.5', '10.0.0.4']);
    expect(t.calls).toEqual([['10.0.0.2', '10.0.0.3', '10.0.0.4'], ['10.0.0.5']]);
    expect(t.pool.free.has(3)).toBe(true); // stays marked taken
  });

  it('should list again once when the view looks full, then answer exhausted', async () => {
    const etcd: Etcd = new Map();
    for (let i = 2; i <= 11; i++) {
      etcd.set(`10.0.0.${i}`, 'other');
    }
    const t = setup(etcd);
    const got = await Promise.allSettled(Array.from({ length: 5 }, () => t.allocate()));
    const ok = got.flatMap((r) => (r.status === 'fulfilled' ? [r.value?.toString()] : []));
    const failed = got.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(ok.sort((a, b) => (a ?? '').localeCompare(b ?? ''))).toEqual([
      '10.0.0.12',
      '10.0.0.13',
      '10.0.0.14',
    ]);
    expect(failed).toHaveLength(2);
    expect(failed.every((e) => e instanceof PoolExhausted)).toBe(true);
    expect(t.pool.syncs).toBe(1);
    expect(t.calls).toEqual([['10.0.0.12', '10.0.0.13', '10.0.0.14']]);
  });

  it('should read more of the pool while it grows, and answer exhausted only after a whole re-list', async () => {
    const etcd: Etcd = new Map();
    for (let i = 2; i <= 14; i++) {
      etcd.set(`10.0.0.${i}`, 'other');
    }
    const t = setup(etcd);
    t.pool.widenings = ['grew', 'grew'];
    await expect(t.allocate()).rejects.toThrow(PoolExhausted);
    expect(t.pool.syncs).toBe(3);
    expect(t.calls).toEqual([]);
  });

  it('should read more of the pool with the first deadline among the requests it serves', async () => {
    const etcd: Etcd = new Map();
    for (let i = 2; i <= 14; i++) {
      etcd.set(`10.0.0.${i}`, 'other');
    }
    const t = setup(etcd);
    const first = Date.now() + 5_000;
    const got = await Promise.allSettled([t.allocate(first + 3_000), t.allocate(first)]);
    expect(got.map((r) => r.status)).toEqual(['rejected', 'rejected']); // exhausted
    expect(t.pool.syncDeadlines).toEqual([first]);
  });

  it('should find addresses freed elsewhere when the list is taken again', async () => {
    const etcd: Etcd = new Map();
    for (let i = 2; i <= 14; i++) {
      etcd.set(`10.0.0.${i}`, 'other');
    }
    const t = setup(etcd);
    etcd.delete('10.0.0.9'); // released by its node; our watch has not said so yet
    expect(ips([await t.allocate()])).toEqual(['10.0.0.9']);
    expect(t.pool.syncs).toBe(1);
  });

  it('should answer undefined for a pool gone meanwhile and give the candidates back', async () => {
    const t = setup(new Map(), { poolGone: true });
    expect(await Promise.all([t.allocate(), t.allocate()])).toEqual([undefined, undefined]);
    expect(t.pool.free.takenCount).toBe(3);
  });

  it('should fail every request of a failed transaction and give the candidates back', async () => {
    const err = new StoreUnavailable('etcd is unreachable');
    const t = setup(new Map(), { fail: err });
    const got = await Promise.allSettled([t.allocate(), t.allocate()]);
    expect(got.map((r) => (r.status === 'rejected' ? r.reason : r.value))).toEqual([err, err]);
    expect(t.pool.free.takenCount).toBe(3);
  });

  it.each([
    {
      name: 'one refused claim among five',
      names: ['a', 'b', 'huge', 'd', 'e'],
      refused: ['huge'],
      // The five, then halves of three and two, then the three's halves (two and one: the
      // refused claim alone), then the two's halves.
      calls: [
        ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'],
        ['10.0.0.2', '10.0.0.3', '10.0.0.4'],
        ['10.0.0.5', '10.0.0.6'],
        ['10.0.0.2', '10.0.0.3'],
        ['10.0.0.4'],
      ],
    },
    {
      name: 'two refused claims among four',
      names: ['huge', 'b', 'c', 'huge'],
      refused: ['huge', 'huge'],
      calls: [
        ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5'],
        ['10.0.0.2', '10.0.0.3'],
        ['10.0.0.4', '10.0.0.5'],
        ['10.0.0.2'],
        ['10.0.0.3'],
        ['10.0.0.4'],
        ['10.0.0.5'],
      ],
    },
    { name: 'a lone refused claim', names: ['huge'], refused: ['huge'], calls: [['10.0.0.2']] },
  ])(
    'should split a batch that etcd refuses until the refused claims fail alone: $name',
    async ({ names, refused, calls }) => {
      const t = setup(new Map(), { refuse: (r) => r.name === 'huge' });
      const got = await Promise.allSettled(names.map((name) => t.allocate(undefined, name)));
      const reasons = got.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(names.filter((_, i) => got[i]!.status === 'rejected')).toEqual(refused);
      expect(reasons.every((e) => e instanceof RequestRefused)).toBe(true);
      // The halves of a split go concurrently: compare the transactions in any order.
      expect(t.calls.toSorted(byText)).toEqual(calls.toSorted(byText));
      // The refused claims' candidates are free again; the granted ones are stored.
      expect(t.etcd.size).toBe(names.length - refused.length);
      expect(t.pool.free.takenCount).toBe(3 + t.etcd.size);
    },
  );

  it('should fail a request past its deadline without a transaction', async () => {
    const t = setup();
    await expect(t.allocate(Date.now() - 1)).rejects.toThrow(StoreUnavailable);
    expect(t.calls).toHaveLength(0);
  });

  it('should split a burst into transactions of at most 64', async () => {
    const etcd: Etcd = new Map();
    const t = setup(etcd);
    // A bigger pool for this one: 10.0.0.0/24 less network, gateway and broadcast.
    Object.assign(t.pool, { free: new FreeSet(256) });
    t.pool.reset();
    t.pool.free.take(255);
    const got = await Promise.all(Array.from({ length: 100 }, () => t.allocate()));
    expect(new Set(ips(got)).size).toBe(100);
    expect(t.calls.map((c) => c.length)).toEqual([64, 36]);
  });
});
