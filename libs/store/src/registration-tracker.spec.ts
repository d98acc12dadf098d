import { describe, expect, it } from 'vitest';

import type { StoredRegistration } from './records.js';
import {
  describeRegistration,
  keptAliveAfterMs,
  LEASE_EXPIRY_SLACK_MS,
  RegistrationTracker,
} from './registration-tracker.js';

const SELF = 'self';

function reg(instance: string, ttl?: unknown, host = 'host-b'): StoredRegistration {
  return {
    node: 'node-1',
    instance,
    // oxlint-disable-next-line typescript/no-unsafe-type-assertion -- a hand-written value
    record: { host, pid: 42, started: '2026-12-06T21:00:00.000Z', version: '0.3.0', ttl } as never,
    createRevision: '7',
  };
}

type Step =
  | { at: number; reset: StoredRegistration[] }
  | { at: number; put: StoredRegistration }
  | { at: number; delete: string };

/** Runs the steps on a tracker whose fallback TTL is 10 s; the live instances at `at`. */
function liveAfter(steps: Step[], at: number): string[] {
  const tracker = new RegistrationTracker(SELF, 10);
  for (const step of steps) {
    if ('reset' in step) {
      tracker.reset(step.reset, step.at);
    } else if ('put' in step) {
      tracker.put(step.put, step.at);
    } else {
      tracker.delete(step.delete);
    }
  }
  return tracker.live(at).map((r) => r.instance);
}

const TTL2 = 2_000 + LEASE_EXPIRY_SLACK_MS;

describe('RegistrationTracker.live', () => {
  it.each<{ name: string; steps: Step[]; at: number; live: string[] }>([
    { name: 'nothing seen', steps: [], at: 60_000, live: [] },
    {
      name: 'its own registration never counts',
      steps: [{ at: 0, reset: [reg(SELF, 2)] }],
      at: 60_000,
      live: [],
    },
    {
      name: 'another one just before its TTL and the slack have passed',
      steps: [{ at: 0, reset: [reg('b', 2)] }],
      at: TTL2 - 1,
      live: [],
    },
    {
      name: 'another one still there one TTL and the slack after it was seen',
      steps: [{ at: 0, reset: [reg('b', 2)] }],
      at: TTL2,
      live: ['b'],
    },
    {
      name: "a stopped plugin's registration that expired meanwhile (a restart)",
      steps: [
        { at: 0, reset: [reg(SELF, 2), reg('predecessor', 2)] },
        { at: 1_500, delete: 'predecessor' },
      ],
      at: 60_000,
      live: [],
    },
    {
      name: 'one that a re-list no longer shows',
      steps: [
        { at: 0, reset: [reg('b', 2)] },
        { at: 3_000, reset: [reg(SELF, 2)] },
      ],
      at: 60_000,
      live: [],
    },
    {
      name: 'a re-list keeps when it was first seen',
      steps: [
        { at: 0, reset: [reg('b', 2)] },
        { at: 3_000, reset: [reg('b', 2)] },
      ],
      at: TTL2,
      live: ['b'],
    },
    {
      name: 'a registration written again (a new lease) keeps when it was first seen',
      steps: [
        { at: 0, put: reg('b', 2) },
        { at: 3_000, put: reg('b', 2) },
      ],
      at: TTL2,
      live: ['b'],
    },
    {
      name: 'one seen later is judged from then',
      steps: [{ at: 5_000, put: reg('b', 2) }],
      at: 5_000 + TTL2 - 1,
      live: [],
    },
    {
      name: 'without a TTL in its value: the fallback of 10 s',
      steps: [{ at: 0, put: reg('b', 'ten') }],
      at: 10_000 + LEASE_EXPIRY_SLACK_MS - 1,
      live: [],
    },
    {
      name: 'two others, in instance order',
      steps: [{ at: 0, reset: [reg('z', 2), reg(SELF, 2), reg('c', 2)] }],
      at: TTL2,
      live: ['c', 'z'],
    },
  ])('$name', ({ steps, at, live }) => {
    expect(liveAfter(steps, at)).toEqual(live);
  });
});

describe('keptAliveAfterMs', () => {
  it.each([
    { name: 'no record', registration: { ...reg('b'), record: undefined }, ms: 10_000 },
    { name: 'a TTL of 0', registration: reg('b', 0), ms: 10_000 },
    { name: 'a TTL as text', registration: reg('b', '5'), ms: 10_000 },
    { name: 'etcd’s minimum', registration: reg('b', 2), ms: 2_000 },
    { name: 'a long TTL', registration: reg('b', 60), ms: 60_000 },
  ])('$name', ({ registration, ms }) => {
    expect(keptAliveAfterMs(registration, 10)).toBe(ms + LEASE_EXPIRY_SLACK_MS);
  });
});

describe('describeRegistration', () => {
  it.each([
    {
      name: 'a value without fields',
      registration: { ...reg('u1'), record: {} },
      text: 'a live kontena-ipam on host (unknown) (instance u1)',
    },
    {
      name: 'a full value',
      registration: reg('u1', 10),
      text: 'a live kontena-ipam on host host-b (pid 42, version 0.3.0, started 2026-12-06T21:00:00.000Z, instance u1)',
    },
  ])('$name', ({ registration, text }) => {
    expect(describeRegistration(registration)).toBe(text);
  });
});
