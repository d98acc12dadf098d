import { PoolExhausted } from '#app/ipam';
import { METRICS } from '#app/metrics';
import type { Addr, Prefix } from '#app/net';
import {
  MAX_RESERVE_BATCH,
  RequestRefused,
  type AddressRecord,
  type Deadline,
  type AllocationStore,
  type ReserveResult,
  type StoredPool,
} from '#app/store';
import { checkDeadline } from './deadline.js';
import type { Widened } from './pool-view.js';

/** What a batch needs of one pool's local state (AddressAllocator's PoolState, a PoolView). */
export interface BatchPool {
  readonly pool: StoredPool;
  readonly subnet: Prefix;
  /** The view lost a watch: sync() before trusting it. */
  readonly stale: boolean;
  /** Lists again what the view reads, waiting for etcd until `deadline`. */
  sync(deadline: Deadline): Promise<void>;
  /**
   * The view has no candidate left: read more of the pool. 'relisted' when the whole range was
   * listed afresh, so that a view still full is full; 'grew' when only more of it was read.
   */
  widen(deadline: Deadline): Promise<Widened>;
  /** Takes the next free candidate in the local view, or undefined when it looks full. */
  nextCandidate(): Addr | undefined;
  releaseLocally(value: bigint): void;
}

/** One dynamic allocation waiting for its transaction. */
interface Waiting {
  /** The record to write, without its address. */
  readonly record: AddressRecord;
  readonly nonce: string;
  readonly deadline: Deadline;
  /** The local view said "full" and the whole pool was listed again for this request. */
  relisted: boolean;
  resolve(addr: Addr | undefined): void;
  reject(err: unknown): void;
}

/**
 * Dynamic allocations of one pool that arrive together share one etcd transaction. Requests are
 * queued and flushed on the next turn of the event loop (setImmediate: no timer, so a lone
 * request waits for nothing), up to MAX_RESERVE_BATCH per transaction. Each request gets its own
 * candidate from the local free set and its own nested transaction
 * (`AllocationStore.reserveAddresses`), so an address taken meanwhile by another node fails only
 * that request, which goes round again with the next candidate. A batch of one is plain
 * `reserveAddress`. Correctness still rests on each address's compares alone.
 */
export class AddressBatch {
  private readonly waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly poolId: string,
    private readonly state: BatchPool,
    private readonly store: AllocationStore,
    private readonly onReserved: (addr: Addr, record: AddressRecord) => void,
  ) {}

  /** The reserved address, or undefined when the pool was deleted or re-created meanwhile. */
  allocate(record: AddressRecord, nonce: string, deadline: Deadline): Promise<Addr | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ record, nonce, deadline, relisted: false, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.waiting.length > 0) {
      void this.run(this.waiting.splice(0, MAX_RESERVE_BATCH));
    }
  }

  /** Rounds of candidates and one transaction each, until every request is settled. */
  private async run(batch: Waiting[]): Promise<void> {
    let pending = batch;
    try {
      while (pending.length > 0) {
        pending = pending.filter((w) => {
          try {
            checkDeadline(w.deadline, `an address in pool ${this.poolId}`);
            return true;
          } catch (err) {
            w.reject(err);
            return false;
          }
        });
        if (pending.length === 0) {
          return;
        }
        // A list waits for etcd no longer than the first deadline among the requests it serves:
        // none of them waits past its own (ETCD_WAIT_TIMEOUT in all, lists included).
        const deadline = Math.min(...pending.map((w) => w.deadline));
        if (this.state.stale) {
          await this.state.sync(deadline);
        }
        const tries: Try[] = [];
        const full: Waiting[] = [];
        for (const w of pending) {
          const addr = this.state.nextCandidate();
          if (addr) {
            tries.push({ w, addr });
          } else {
            full.push(w);
          }
        }
        if (full.some((w) => !w.relisted)) {
          // The local view says full: read more of the pool, and make sure with a fresh list of
          // all of it before saying so. This round's candidates go back first, so the list
          // cannot hand one out twice.
          for (const t of tries) {
            this.state.releaseLocally(t.addr.value);
          }
          if ((await this.state.widen(deadline)) === 'relisted') {
            for (const w of full) {
              w.relisted = true;
            }
          }
          continue;
        }
        for (const w of full) {
          w.reject(new PoolExhausted(this.poolId));
        }
        pending = tries.length === 0 ? [] : await this.reserve(tries);
      }
    } catch (err) {
      for (const w of pending) {
        w.reject(err); // a request settled already ignores this
      }
    }
  }

  /** One transaction for `tries`; settles the requests it decides and returns the others. */
  private async reserve(tries: Try[]): Promise<Waiting[]> {
    const outcomes = await this.transact(tries);
    const again: Waiting[] = [];
    tries.forEach((t, i) => {
      const outcome = outcomes[i];
      switch (outcome?.kind) {
        case 'reserved':
          this.onReserved(t.addr, t.w.record);
          t.w.resolve(t.addr);
          break;
        case 'pool-gone':
          this.state.releaseLocally(t.addr.value);
          t.w.resolve(undefined);
          break;
        case 'failed':
          this.state.releaseLocally(t.addr.value);
          t.w.reject(outcome.error);
          break;
        case 'taken':
        case undefined:
          // Taken by another node (our watch had not told us yet): it stays marked; next one.
          again.push(t.w);
          break;
      }
    });
    return again;
  }

  /**
   * What etcd decided for each of `tries`, in one transaction. A transaction that etcd refuses
   * for what it holds (too large: a claim carries a huge value; RequestRefused) is split in
   * halves, down to single claims, so that the claim that makes it so fails alone and the others
   * are granted: about 2·log2(n) more transactions for one such claim among n. Any other failure
   * (etcd unreachable past the deadline, a full quota) is every claim's.
   */
  private async transact(tries: readonly Try[]): Promise<Outcome[]> {
    const length = this.state.subnet.length;
    const wanted = tries.map(({ w, addr }) => ({
      ip: addr.toString(),
      record: { ...w.record, address: `${addr.toString()}/${length}` },
      nonce: w.nonce,
    }));
    const deadline = Math.min(...tries.map((t) => t.w.deadline));
    METRICS.batch(wanted.length);
    try {
      const one = wanted.length === 1 ? wanted[0] : undefined;
      return one
        ? [
            await this.store.reserveAddress(
              this.state.pool,
              one.ip,
              one.record,
              one.nonce,
              deadline,
            ),
          ]
        : await this.store.reserveAddresses(this.state.pool, wanted, deadline);
    } catch (error) {
      if (tries.length > 1 && error instanceof RequestRefused) {
        const half = Math.ceil(tries.length / 2);
        const [first, second] = await Promise.all([
          this.transact(tries.slice(0, half)),
          this.transact(tries.slice(half)),
        ]);
        return [...first, ...second];
      }
      return tries.map(() => ({ kind: 'failed', error }));
    }
  }
}

/** A waiting request and the candidate chosen for it this round. */
interface Try {
  w: Waiting;
  addr: Addr;
}

/** What became of one claim of a transaction. */
type Outcome = ReserveResult | { kind: 'failed'; error: unknown };
