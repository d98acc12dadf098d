// Helpers shared by the reliability tests: timed plugin calls, client loops, address accounting.
import { readFileSync } from 'node:fs';
import { RawEtcd } from '../int/harness.js';
import { pluginCall, type PluginProcess, type WireReply } from '../e2e/plugin-process.js';

export interface TimedReply {
  method: string;
  /** Which plugin answered (its NODE_ID). */
  node: string;
  startedAt: number;
  endedAt: number;
  status: number;
  /** `Address` of a RequestAddress reply, `Err` of an error. */
  address?: string;
  err?: string;
  /** A transport failure (the plugin closed the connection, a timeout): always a test failure. */
  transport?: string;
}

export interface NodePlugin {
  node: string;
  plugin: PluginProcess;
}

export async function timedCall(
  target: NodePlugin,
  method: string,
  body: unknown,
  timeoutMs = 60_000,
): Promise<TimedReply> {
  const startedAt = Date.now();
  let reply: WireReply;
  try {
    reply = await pluginCall(target.plugin.socketPath, method, body, { timeoutMs });
  } catch (e) {
    return {
      method,
      node: target.node,
      startedAt,
      endedAt: Date.now(),
      status: 0,
      transport: e instanceof Error ? e.message : String(e),
    };
  }
  const address = reply.body?.Address;
  const err = reply.body?.Err;
  return {
    method,
    node: target.node,
    startedAt,
    endedAt: Date.now(),
    status: reply.status,
    address: typeof address === 'string' ? address : undefined,
    err: typeof err === 'string' ? err : reply.status === 200 ? undefined : reply.text,
  };
}

/** Throws unless the reply has `status`, naming what came instead (usable in hooks and loops). */
export function assertStatus(reply: TimedReply, status: number): void {
  if (reply.status !== status) {
    throw new Error(
      `${reply.method} on ${reply.node}: expected ${status}, got ${reply.status} ${reply.err ?? reply.transport ?? ''}`,
    );
  }
}

/** Runs `count` sequential client loops (round-robin over `targets`) until `until()` is true. */
export async function runClients(
  targets: readonly NodePlugin[],
  count: number,
  until: () => boolean,
  step: (target: NodePlugin, client: number) => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, client) => {
      const target = targets[client % targets.length];
      if (!target) {
        return;
      }
      while (!until()) {
        await step(target, client);
      }
    }),
  );
}

/** Addresses handed out twice among successful replies (`<ip>/<len>` → how often). */
export function duplicates(replies: readonly TimedReply[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const r of replies) {
    if (r.status === 200 && r.address) {
      seen.set(r.address, (seen.get(r.address) ?? 0) + 1);
    }
  }
  return new Map([...seen].filter(([, n]) => n > 1));
}

/** The endpoint addresses stored for one pool: IP → owner node. */
export async function storedEndpoints(raw: RawEtcd, poolId: string): Promise<Map<string, string>> {
  const dump = await raw.dump();
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(dump)) {
    const ip = key.startsWith(`addresses/${poolId}/`)
      ? key.slice(`addresses/${poolId}/`.length)
      : undefined;
    const record = value as { node?: string; type?: string };
    if (ip && record.type !== 'gateway') {
      out.set(ip, record.node ?? '');
    }
  }
  return out;
}

/** Resident set size of a process in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? Number.NaN : Math.round(Number(kb) / 102.4) / 10;
}

/** A short summary of replies by status and error text, for test output. */
export function summarize(replies: readonly TimedReply[]): string {
  const counts = new Map<string, number>();
  for (const r of replies) {
    const label =
      r.status === 200
        ? '200'
        : r.transport
          ? `transport: ${r.transport}`
          : `${r.status}: ${(r.err ?? '').replace(/\d+\.\d+\.\d+\.\d+/g, 'IP').slice(0, 90)}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts]
    .sort((x, y) => y[1] - x[1])
    .map(([label, n]) => `${n} × ${label}`)
    .join('; ');
}
