import { Logger } from '@nestjs/common';
import { EtcdPermissionDeniedError } from 'etcd3';

import { StoreUnavailable } from './errors.js';

/**
 * The oldest etcd the store's transactions are correct on. Range compares (`range_end` in a
 * compare) and nested transactions came with etcd 3.3.0 (etcd-io/etcd PR #8025); an older
 * member ignores the range of a compare and compares the first key alone, so the "no other
 * member" compare of a release holds although other nodes are members, and the last release on
 * one node deletes a pool that other nodes use (libs/store/README.md, "Transactions").
 */
export const MIN_ETCD_VERSION = { major: 3, minor: 3 } as const;

/** `3.4.23` → 3 and 4; undefined for anything that does not start with two numbers. */
export function parseEtcdVersion(text: string): { major: number; minor: number } | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.|$)/.exec(text);
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

/**
 * Why the store refuses etcd `version` (reported by the member at `where`), or undefined when it
 * is recent enough. A version that does not parse is refused too: nothing says it has range
 * compares.
 */
export function versionProblem(version: string, where: string): string | undefined {
  const parsed = parseEtcdVersion(version);
  const { major, minor } = MIN_ETCD_VERSION;
  if (parsed && (parsed.major > major || (parsed.major === major && parsed.minor >= minor))) {
    return undefined;
  }
  const shown = version === '' ? 'of unknown version' : version;
  return `etcd ${shown} at ${where}: kontena-ipam needs etcd ${major}.${minor} or newer (range compares)`;
}

type VersionState =
  /** not read since the connection was (re)established */
  | { kind: 'unknown' }
  | { kind: 'supported'; version: string }
  /** etcd would not say: some versions answer Status only to a user with the root role */
  | { kind: 'unverified' }
  | { kind: 'unsupported'; version: string; problem: string };

/**
 * What the connection knows about the etcd version it talks to: read before the first call after
 * every (re)connection the connection sees (a failed call), and by every round of its background
 * probe, which also catches a quiet reconnection (an idle gRPC channel reconnects without an
 * error) and ends a refusal once etcd is upgraded in place. While the version is unsupported every
 * state call fails at once with a 503 that says why (StoreUnavailable).
 */
export class EtcdVersionGate {
  private readonly log = new Logger('EtcdConnection');
  private state: VersionState = { kind: 'unknown' };
  private reading?: Promise<void>;
  /** the last version logged, so that a reconnection to the same etcd logs nothing */
  private logged?: string;

  /**
   * @param readVersion  the version of the member one call reaches (etcd's Maintenance.Status)
   * @param where  the endpoints, as the error sentences name them
   */
  constructor(
    private readonly readVersion: (deadline: Date) => Promise<string>,
    private readonly where: string,
  ) {}

  /** True when calls may go ahead without reading the version first. */
  get open(): boolean {
    return this.state.kind === 'supported' || this.state.kind === 'unverified';
  }

  /** Why calls are refused (the etcd check of /readyz), or undefined. */
  get problem(): string | undefined {
    return this.state.kind === 'unsupported' ? this.state.problem : undefined;
  }

  /** The connection was lost: read the version again before the next call. */
  forget(): void {
    this.state = { kind: 'unknown' };
  }

  /**
   * Resolves once the version is known to be supported (or etcd will not say); throws
   * StoreUnavailable when it is not, and whatever the read threw when etcd did not answer (the
   * caller's retry loop decides). Concurrent callers share one read.
   */
  async admit(deadline: Date): Promise<void> {
    if (this.state.kind === 'unknown') {
      await this.refresh(deadline);
    }
    if (this.state.kind === 'unsupported') {
      throw new StoreUnavailable(this.state.problem);
    }
  }

  /** Reads the version now (the probe); concurrent callers share one read. */
  refresh(deadline: Date): Promise<void> {
    this.reading ??= this.read(deadline).finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  private async read(deadline: Date): Promise<void> {
    let version: string;
    try {
      version = await this.readVersion(deadline);
    } catch (err) {
      if (!(err instanceof EtcdPermissionDeniedError)) {
        throw err;
      }
      if (this.logged !== '') {
        this.log.warn(
          `etcd at ${this.where} does not tell this user its version (its Status call needs ` +
            `the root role): kontena-ipam cannot check that it is ${MIN_ETCD_VERSION.major}.${MIN_ETCD_VERSION.minor} or newer`,
        );
        this.logged = '';
      }
      this.state = { kind: 'unverified' };
      return;
    }
    const problem = versionProblem(version, this.where);
    if (problem === undefined) {
      this.state = { kind: 'supported', version };
      if (this.logged !== version) {
        this.log.log(`etcd at ${this.where} is version ${version}`);
      }
    } else {
      this.state = { kind: 'unsupported', version, problem };
      if (this.logged !== version) {
        this.log.error(`${problem}: every call that needs etcd fails until it is upgraded`);
      }
    }
    this.logged = version;
  }
}
