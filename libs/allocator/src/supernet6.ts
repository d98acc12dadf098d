import { randomBytes } from 'node:crypto';
import type { Logger } from '@nestjs/common';
import type { IpamConfig, SupernetConfig } from '#app/config';
import { MAX_V6_POOL_LENGTH, Unsupported } from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import { newNonce, type AllocationStore, type Deadline } from '#app/store';

/**
 * A unique local /48 (RFC 4193 section 3.2): `fd`, then a 40-bit random global id. Random is what
 * the RFC asks for; a collision with another site's ULA is what the 40 bits make unlikely.
 */
export function randomUla48(random: Buffer = randomBytes(5)): Prefix {
  let value = 0xfdn;
  for (const byte of random.subarray(0, 5)) {
    value = (value << 8n) | BigInt(byte);
  }
  return Prefix.of(Addr.fromBigInt(6, value << 80n), 48);
}

/** A supernet of a list, with the prefix length of the pools carved from it. */
export interface Supernet {
  prefix: Prefix;
  length: number;
}

/**
 * The supernets dynamic IPv6 pools are carved from: KONTENA_IPAM_SUPERNET6 when this node sets it,
 * else the cluster's ULA /48, chosen by the first node that asks (create-if-absent of
 * `supernet6` in etcd) and read by the others, so every node carves from the same one. Read once
 * per process, on the first dynamic IPv6 RequestPool: start-up never needs etcd.
 */
/** A supernet list of the configuration, parsed (libs/config validated it). */
export function toSupernets(list: readonly SupernetConfig[]): Supernet[] {
  return list.map((s) => ({ prefix: Prefix.parse(s.supernet), length: s.subnetLength }));
}

export class Supernet6 {
  /** KONTENA_IPAM_SUPERNET6; undefined: the cluster's ULA /48, read on the first dynamic pool. */
  readonly configured?: readonly Supernet[];
  private stored?: Promise<readonly Supernet[]>;
  /** The cluster's supernet once read: what {@link known} answers without asking etcd. */
  private read?: Supernet[];

  constructor(
    private readonly store: AllocationStore,
    private readonly config: IpamConfig,
    private readonly log: Logger,
  ) {
    if (config.supernets6 !== undefined) {
      this.configured = toSupernets(config.supernets6);
    }
  }

  /** The supernets, once known; a failed read (etcd down past `deadline`) is tried again next time. */
  get(deadline: Deadline): Promise<readonly Supernet[]> {
    if (this.configured !== undefined) {
      return Promise.resolve(this.configured);
    }
    if (!this.stored) {
      const reading = this.claim(deadline);
      this.stored = reading;
      reading.catch(() => {
        if (this.stored === reading) {
          this.stored = undefined;
        }
      });
    }
    return this.stored;
  }

  private async claim(deadline: Deadline): Promise<Supernet[]> {
    const candidate = randomUla48().toString();
    const { supernet, created } = await this.store.claimSupernet6(candidate, newNonce(), deadline);
    const prefix = supernet === undefined ? undefined : Prefix.tryParse(supernet);
    if (
      !prefix ||
      prefix.family !== 6 ||
      prefix.hasHostBits() ||
      prefix.length > this.config.subnet6Length ||
      prefix.length > MAX_V6_POOL_LENGTH
    ) {
      throw new Unsupported(
        `the cluster's IPv6 supernet stored in etcd (${JSON.stringify(supernet ?? null)}) is not an IPv6 network that holds /${this.config.subnet6Length} subnets: set KONTENA_IPAM_SUPERNET6 on this node, or see docs/troubleshooting.md`,
      );
    }
    this.log.log(
      created
        ? `IPv6 supernet of the cluster: ${prefix.toString()}, a unique local /48 chosen by node ${this.config.nodeId} (every node uses it unless it sets KONTENA_IPAM_SUPERNET6)`
        : `IPv6 supernet of the cluster: ${prefix.toString()}, as stored in etcd (every node uses it unless it sets KONTENA_IPAM_SUPERNET6)`,
    );
    this.read = [{ prefix, length: this.config.subnet6Length }];
    return this.read;
  }

  /**
   * The supernets as far as this node knows them now, without claiming one: the configured ones,
   * or the cluster's once a dynamic IPv6 pool read it; else none (for the metrics).
   */
  known(): readonly Supernet[] {
    return this.configured ?? this.read ?? [];
  }
}
