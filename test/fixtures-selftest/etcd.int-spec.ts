// Proves the etcd fixtures: the global etcd, single and 3-member clusters, leader loss,
// restart, and that stop() (also after a failed start) leaves no process or directory.
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';

import { describe, expect, inject, it } from 'vitest';

import {
  etcdDeletePrefix,
  etcdGet,
  etcdGetPrefix,
  etcdPut,
  startEtcd,
  type EtcdCluster,
} from '../support/etcd.js';
import { uniquePrefix } from '../support/prefix.js';
import { pidAlive } from '../support/proc.js';

const dirsStartingWith = (prefix: string): string[] =>
  readdirSync(tmpdir()).filter((d) => d.startsWith(prefix));

function livePids(cluster: EtcdCluster): number[] {
  return cluster.members.flatMap((m) => (m.pid === undefined ? [] : [m.pid]));
}

async function expectGone(cluster: EtcdCluster, pids: readonly number[]): Promise<void> {
  await cluster.stop();
  expect(existsSync(cluster.dir)).toBe(false);
  for (const m of cluster.members) {
    expect(existsSync(m.dataDir)).toBe(false);
    expect(m.running).toBe(false);
  }
  expect(pids.filter(pidAlive)).toEqual([]);
}

describe('global etcd (test/setup/etcd.global.ts)', () => {
  it('is provided to tests and works under a unique prefix', async () => {
    const endpoints = inject('etcdEndpoints');
    expect(endpoints.length).toBeGreaterThan(0);
    const prefix = uniquePrefix('fixtures selftest');
    expect(prefix).toMatch(/^\/test\/fixtures-selftest-[0-9a-f]{12}$/);
    expect(uniquePrefix('fixtures selftest')).not.toBe(prefix);

    await etcdPut(endpoints, `${prefix}/a`, 'one');
    await etcdPut(endpoints, `${prefix}/b`, 'two');
    expect(await etcdGet(endpoints, `${prefix}/a`)).toBe('one');
    expect([...(await etcdGetPrefix(endpoints, `${prefix}/`)).entries()]).toEqual([
      [`${prefix}/a`, 'one'],
      [`${prefix}/b`, 'two'],
    ]);
    expect(await etcdDeletePrefix(endpoints, `${prefix}/`)).toBe(2);
    expect(await etcdGet(endpoints, `${prefix}/a`)).toBeUndefined();
  });
});

describe('startEtcd', () => {
  it('starts a single member that serves put/get and removes everything on stop', async () => {
    const cluster = await startEtcd({ name: 'single' });
    const pids = livePids(cluster);
    try {
      expect(cluster.endpoints).toHaveLength(1);
      expect(cluster.endpoints[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(pids).toHaveLength(1);
      expect(existsSync(cluster.members[0]?.dataDir ?? '')).toBe(true);
      expect(cluster.dir.startsWith(tmpdir())).toBe(true);
      await etcdPut(cluster.endpoints, '/selftest/k', 'v');
      expect(await etcdGet(cluster.endpoints, '/selftest/k')).toBe('v');
      expect(await cluster.leaderIndex()).toBe(0);
    } finally {
      await expectGone(cluster, pids);
    }
    // stop() is idempotent
    await cluster.stop();
  });

  it('keeps a 3-member cluster answering after its leader is killed, and restarts it', async () => {
    const cluster = await startEtcd({ members: 3, name: 'trio' });
    const pids = livePids(cluster);
    try {
      expect(cluster.endpoints).toHaveLength(3);
      expect(new Set(cluster.endpoints).size).toBe(3);
      expect(pids).toHaveLength(3);
      const first = cluster.endpoints[0] ?? '';
      await etcdPut(first, '/selftest/before', '1');
      for (const endpoint of cluster.endpoints) {
        expect(await etcdGet(endpoint, '/selftest/before')).toBe('1');
      }

      const leader = await cluster.leaderIndex();
      const leaderPid = cluster.members[leader]?.pid ?? -1;
      await cluster.killMember(leader);
      expect(pidAlive(leaderPid)).toBe(false);
      expect(cluster.members[leader]?.running).toBe(false);
      expect(cluster.members[leader]?.pid).toBeUndefined();

      const survivors = cluster.endpoints.filter((_, i) => i !== leader);
      const newLeader = await cluster.leaderIndex();
      expect(newLeader).not.toBe(leader);
      await etcdPut(survivors, '/selftest/after', '2');
      for (const endpoint of survivors) {
        expect(await etcdGet(endpoint, '/selftest/before')).toBe('1');
        expect(await etcdGet(endpoint, '/selftest/after')).toBe('2');
      }

      await cluster.restartMember(leader);
      const restarted = cluster.members[leader];
      expect(restarted?.running).toBe(true);
      expect(restarted?.pid).not.toBe(leaderPid);
      pids.push(restarted?.pid ?? -1);
      expect(await etcdGet(restarted?.clientUrl ?? '', '/selftest/after')).toBe('2');
    } finally {
      await expectGone(cluster, pids);
    }
  });

  it('removes everything when a start fails', async () => {
    const before = dirsStartingWith('etcd-broken-');
    await expect(
      startEtcd({ name: 'broken', members: 2, extraArgs: ['--no-such-flag'], timeoutMs: 5000 }),
    ).rejects.toThrow(/etcd cluster broken did not start/);
    expect(dirsStartingWith('etcd-broken-')).toEqual(before);
  });
});
