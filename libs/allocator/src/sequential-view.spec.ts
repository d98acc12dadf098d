import { describe, expect, it } from 'vitest';
import { Addr, Prefix } from '#app/net';
import type { AddressFeed, AddressFeedHandler, AllocationStore } from '#app/store';
import { addressViewFor } from './address-view.js';
import { PoolView } from './pool-view.js';
import { laneOffset, SequentialView } from './sequential-view.js';

/** A deadline no test here reaches. */
const LATER = Date.now() + 600_000;

/** A store over `etcd` (the pool's allocated IPs): single-key reads and whole lists. */
function fakeStore(ips: Iterable<string>) {
  const etcd = new Set(ips);
  const reads: number[] = [];
  const store = {
    addressesExist: (_pool: string, wanted: string[]) => {
      reads.push(wanted.length);
      return Promise.resolve(wanted.map((ip) => etcd.has(ip)));
    },
    listAddressKeys: () => Promise.resolve({ ips: [...etcd], revision: '1' }),
    openAddressFeed: (_pool: string, handler: AddressFeedHandler) =>
      ({
        stale: false,
        sync: () => {
          handler.reset([...etcd]);
          return Promise.resolve();
        },
        close: () => Promise.resolve(),
      }) as unknown as AddressFeed,
  };
  return { store: store as unknown as AllocationStore, etcd, reads };
}

const at = (base: string, n: bigint): string => Addr.parse(base).add(n)!.toString();

/** The node whose lane in a /64 starts at `lane << 48`, whatever NODE_ID gives it. */
const laneOf = (node: string): bigint => laneOffset(node, Prefix.parse('fd00::/64')) >> 48n;

/** A SequentialView of node-a over `range` of `subnet`, opened on a store holding `ips`. */
async function openView(subnet: string, ips: Iterable<string> = [], range = subnet) {
  const s = fakeStore(ips);
  const view = new SequentialView(
    s.store,
    'p',
    Prefix.parse(subnet),
    Prefix.parse(range),
    'node-a',
  );
  await view.open(LATER);
  return { view, ...s };
}

describe('SequentialView', () => {
  it('should hand out compact addresses from its lane, one after the other', async () => {
    const { view } = await openView('fd00:1::/64');
    const lane = laneOf('node-a');
    const first = Addr.fromBigInt(6, Addr.parse('fd00:1::').value + (lane << 48n) + 1n);
    expect([1, 2, 3].map(() => view.nextCandidate()?.toString())).toEqual([
      first.toString(),
      first.add(1n)!.toString(),
      first.add(2n)!.toString(),
    ]);
    expect(first.toString()).toBe(`fd00:1::${lane.toString(16)}:0:0:1`);
  });

  it('should give different nodes different lanes', () => {
    const lanes = new Set(['node-a', 'node-b', 'node-c', 'node-d'].map(laneOf));
    expect(lanes.size).toBe(4);
  });

  it.each([0, 1, 2, 7, 100, 1_000, 65_537])(
    'should resume after the %i addresses its lane holds, in a few reads',
    async (n) => {
      const start = Addr.parse('fd00:1::').value + (laneOf('node-a') << 48n) + 1n;
      const held = Array.from({ length: n }, (_, i) =>
        Addr.fromBigInt(6, start + BigInt(i)).toString(),
      );
      const { view, ...s } = await openView('fd00:1::/64', held);
      expect(view.nextCandidate()?.toString()).toBe(
        Addr.fromBigInt(6, start + BigInt(n)).toString(),
      );
      expect(s.reads.length).toBeLessThanOrEqual(5);
      expect(Math.max(...s.reads)).toBeLessThanOrEqual(64);
    },
  );

  it('should never offer the subnet-router anycast address, and offer the last one', async () => {
    const { view } = await openView('fd00::/111'); // 2^17 addresses: more than a bitmap holds
    const seen = new Set<string>();
    for (let a = view.nextCandidate(); a; a = view.nextCandidate()) {
      seen.add(a.toString());
    }
    expect(seen.size).toBe((1 << 17) - 1);
    expect(seen.has('fd00::')).toBe(false);
    expect(seen.has('fd00::1:ffff')).toBe(true);
  });

  it('should wrap at the range end and say full only after a whole list', async () => {
    const range = Prefix.parse('fd00::8000:0/111'); // 2^17 addresses, inside the subnet
    const { view, ...s } = await openView('fd00::/64', [], range.toString());
    const all = new Set<string>();
    for (let a = view.nextCandidate(); a; a = view.nextCandidate()) {
      all.add(a.toString());
    }
    expect(all.size).toBe(1 << 17); // the last address included: no broadcast in IPv6
    expect(all.has(range.broadcast().toString())).toBe(true);
    // Every address taken but one: the list finds it.
    for (const ip of all) {
      s.etcd.add(ip);
    }
    const hole = at('fd00::8000:0', 12_345n);
    s.etcd.delete(hole);
    expect(await view.widen(LATER)).toBe('relisted');
    expect(view.nextCandidate()?.toString()).toBe(hole);
    // Full: the list finds nothing, and the view stays without a candidate.
    s.etcd.add(hole);
    for (let a = view.nextCandidate(); a; a = view.nextCandidate()) {
      /* drain */
    }
    expect(await view.widen(LATER)).toBe('relisted');
    expect(view.nextCandidate()).toBeUndefined();
  });

  it('should offer a candidate handed back first', async () => {
    const { view } = await openView('fd00:1::/64');
    const a = view.nextCandidate()!;
    view.nextCandidate();
    view.releaseLocally(a.value);
    expect(view.nextCandidate()?.toString()).toBe(a.toString());
    view.releaseLocally(Addr.parse('fd00:2::1').value); // not in the range: ignored
    expect(view.nextCandidate()?.toString()).not.toBe('fd00:2::1');
  });
});

describe('addressViewFor', () => {
  it.each([
    { range: 'fd00::/64', kind: SequentialView },
    { range: 'fd00::/111', kind: SequentialView },
    { range: 'fd00::/112', kind: PoolView },
    { range: 'fd00::/120', kind: PoolView },
    { range: '10.0.0.0/8', kind: PoolView },
  ])('$range', ({ range, kind }) => {
    const p = Prefix.parse(range);
    expect(addressViewFor(fakeStore([]).store, 'p', p, p, 'n')).toBeInstanceOf(kind);
  });

  it('should keep a small IPv6 range in a bitmap: the last address too, not the first', async () => {
    const subnet = Prefix.parse('fd00::/120');
    const s = fakeStore(['fd00::1', 'fd00::5']);
    const view = addressViewFor(s.store, 'p', subnet, subnet, 'n');
    await view.open(LATER);
    const all: string[] = [];
    for (let a = view.nextCandidate(); a; a = view.nextCandidate()) {
      all.push(a.toString());
    }
    expect(all).toHaveLength(253); // 256 less ::0, ::1 (the gateway) and ::5
    expect(all).toContain('fd00::ff');
    expect(all).not.toContain('fd00::');
    expect(all).not.toContain('fd00::5');
  });
});
