import type { StoredRegistration } from './records.js';

/**
 * How long after a lease's TTL its keys may still be listed: etcd's leader looks for expired
 * leases every 500 ms and revokes them through raft, and a new leader extends every lease by its
 * election timeout (1 s by default).
 */
export const LEASE_EXPIRY_SLACK_MS = 2_000;

/**
 * How long a registration must be seen to count as kept alive: its lease's TTL (`ttl` in its
 * value, else `fallbackSeconds`) and the slack. A plugin that stopped without revoking its lease
 * (a crash, a kill) leaves its registration for at most that long.
 */
export function keptAliveAfterMs(
  registration: StoredRegistration,
  fallbackSeconds: number,
): number {
  const ttl = registration.record?.ttl;
  const seconds =
    typeof ttl === 'number' && Number.isFinite(ttl) && ttl > 0 ? ttl : fallbackSeconds;
  return seconds * 1000 + LEASE_EXPIRY_SLACK_MS;
}

/**
 * The registrations of one NODE_ID other than this plugin's own, each with the time it was first
 * seen. A registration still there one TTL (and the slack) after it was first seen is kept alive
 * by a running plugin: a second live instance of the NODE_ID. One that goes away before is the
 * registration of a plugin that stopped (this one's predecessor, after a restart) and never
 * counts. Pure: the caller says what it listed or was told by its watch, and when.
 */
export class RegistrationTracker {
  private readonly seen = new Map<string, { registration: StoredRegistration; since: number }>();

  /**
   * @param self  this plugin's instance id: its own registration is not tracked
   * @param fallbackSeconds  the TTL of a registration whose value does not say its own
   */
  constructor(
    private readonly self: string,
    private readonly fallbackSeconds: number,
  ) {}

  /** The registrations as listed: those not listed are gone, the others keep their first sight. */
  reset(registrations: readonly StoredRegistration[], now: number): void {
    const listed = new Set<string>();
    for (const registration of registrations) {
      listed.add(registration.instance);
      this.put(registration, now);
    }
    for (const instance of this.seen.keys()) {
      if (!listed.has(instance)) {
        this.seen.delete(instance);
      }
    }
  }

  /** A registration written (or written again, by a plugin that registered anew: same sight). */
  put(registration: StoredRegistration, now: number): void {
    if (registration.instance === this.self) {
      return;
    }
    const since = this.seen.get(registration.instance)?.since ?? now;
    this.seen.set(registration.instance, { registration, since });
  }

  /** A registration deleted: its lease expired or was revoked. */
  delete(instance: string): void {
    this.seen.delete(instance);
  }

  /** The registrations kept alive by other running plugins, in instance order. */
  live(now: number): StoredRegistration[] {
    return [...this.seen.values()]
      .filter(
        ({ registration, since }) =>
          now - since >= keptAliveAfterMs(registration, this.fallbackSeconds),
      )
      .map(({ registration }) => registration)
      .sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  }
}

/** `a live kontena-ipam on host b (pid 42, version 0.3.0, started …)`, for log lines and refusals. */
export function describeRegistration(registration: StoredRegistration): string {
  const r = registration.record;
  const details = [
    typeof r?.pid === 'number' ? `pid ${r.pid}` : undefined,
    typeof r?.version === 'string' ? `version ${r.version}` : undefined,
    typeof r?.started === 'string' ? `started ${r.started}` : undefined,
    `instance ${registration.instance}`,
  ].filter((d) => d !== undefined);
  const host = typeof r?.host === 'string' ? r.host : '(unknown)';
  return `a live kontena-ipam on host ${host} (${details.join(', ')})`;
}
