import { setTimeout as sleep } from 'node:timers/promises';

import {
  type CleanupStore,
  DEFAULT_REGISTRATION_TTL_SECONDS,
  describeRegistration,
  keptAliveAfterMs,
  type StoredRegistration,
} from '#app/store';

/**
 * Which running plugins hold a NODE_ID, read from their registrations (`nodes/<NODE_ID>/`, kept
 * alive on leases by the plugins: libs/store/src/node-registration.ts). A registration listed now
 * may be that of a plugin that stopped without revoking its lease (a crash, a kill): it lasts one
 * TTL. So one that matters is listed again one TTL (and a slack) later, and counts only if it is
 * still there: kept alive by a running plugin.
 */

/** The registrations that make a pass for their NODE_ID on `host` unsafe. */
export function passConflicts(
  registrations: readonly StoredRegistration[],
  host: string,
): StoredRegistration[] {
  // One plugin on this host is this host's own. One elsewhere hands out addresses this host's
  // Docker does not know (a pass frees them as leaks); two anywhere share every address.
  return registrations.length > 1
    ? [...registrations]
    : registrations.filter((r) => r.record?.host !== host);
}

/** The registrations that make forgetting their NODE_ID unsafe: any live one. */
export function forgetConflicts(
  registrations: readonly StoredRegistration[],
): StoredRegistration[] {
  return [...registrations];
}

export interface LivenessRead {
  store: CleanupStore;
  node: string;
  /** the registrations that matter, out of those listed */
  conflicts: (registrations: readonly StoredRegistration[]) => StoredRegistration[];
  signal: AbortSignal;
  /** told how long the wait is, before it */
  onWait: (seconds: number, listed: readonly StoredRegistration[]) => void;
}

/**
 * The registrations of `node` that matter (`conflicts`) and are kept alive. When none is listed
 * that matters, at once; else after waiting until each listed one has outlived its lease's TTL.
 * Rejects with the signal's reason when aborted while waiting.
 */
export async function liveConflicts({
  store,
  node,
  conflicts,
  signal,
  onWait,
}: LivenessRead): Promise<StoredRegistration[]> {
  const first = await store.listRegistrations(node, store.deadline());
  if (conflicts(first).length === 0) {
    return [];
  }
  const waitMs = Math.max(
    ...first.map((r) => keptAliveAfterMs(r, DEFAULT_REGISTRATION_TTL_SECONDS)),
  );
  onWait(Math.ceil(waitMs / 1000), first);
  await sleep(waitMs, undefined, { signal });
  const again = await store.listRegistrations(node, store.deadline());
  return conflicts(again.filter((r) => first.some((f) => f.instance === r.instance)));
}

/** `a live kontena-ipam on host b (…) and a live kontena-ipam on host c (…)` */
export function describeHolders(registrations: readonly StoredRegistration[]): string {
  return registrations.map(describeRegistration).join(' and ');
}
