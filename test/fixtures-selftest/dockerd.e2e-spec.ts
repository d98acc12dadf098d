// Proves the Docker fixtures: a private dockerd (on the host and in a netns of its own), the
// registry-free busybox image, bounded CLI calls, plugin spec files, and that stop() (also
// after a failed start) leaves no process, mount, bridge, netns, cgroup or directory.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  BUSYBOX_IMAGE,
  PLUGIN_SPEC_DIR,
  ensureBusyboxImage,
  keepingRunMountAbsent,
  registerPluginSpec,
  startDockerd,
  sweepStaleDockerFixtures,
  sweepStalePluginSpecs,
  type DockerHost,
} from '../support/dockerd.js';
import {
  mountPoints,
  mountsUnder,
  pidAlive,
  pidsWithCmdlineContaining,
  runSync,
  waitFor,
} from '../support/proc.js';

/** Makes `path` and its missing parents; returns those it made, outermost first. */
function makeDirs(path: string): string[] {
  const missing: string[] = [];
  for (let p = path; !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
  }
  missing.forEach((d) => mkdirSync(d));
  return missing;
}

const NETNS_DIR = '/run/netns';
const isMountPoint = (path: string): boolean => mountPoints().includes(path);

/** rmdir, unless it is gone already. */
function removeDirIfThere(dir: string): void {
  if (existsSync(dir)) {
    rmdirSync(dir);
  }
}

const dirsStartingWith = (prefix: string): string[] =>
  readdirSync(tmpdir()).filter((d) => d.startsWith(prefix));

function hostLinks(): string[] {
  const r = runSync('ip', ['-j', 'link', 'show']);
  const links: unknown = JSON.parse(r.stdout);
  return (Array.isArray(links) ? links : []).flatMap((l: unknown) =>
    typeof l === 'object' && l !== null && 'ifname' in l && typeof l.ifname === 'string'
      ? [l.ifname]
      : [],
  );
}

function netnsList(): string[] {
  return runSync('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((l) => l.length > 0);
}

function cgroupExists(parent: string): boolean {
  return readdirSync('/sys/fs/cgroup').some((c) => existsSync(join('/sys/fs/cgroup', c, parent)));
}

// What must be true of the machine once a DockerHost is stopped.
async function stopAndExpectClean(host: DockerHost, linksBefore: readonly string[]): Promise<void> {
  await host.stop();
  expect(pidAlive(host.pid)).toBe(false);
  expect(pidsWithCmdlineContaining(`${host.dir}/`)).toEqual([]);
  expect(mountsUnder([host.dir])).toEqual([]);
  expect(existsSync(host.dir)).toBe(false);
  expect(cgroupExists(host.cgroupParent)).toBe(false);
  expect(hostLinks()).toEqual(linksBefore);
  const netns = host.netns ?? 'no-netns';
  expect(netnsList()).not.toContain(netns);
  expect(existsSync(`/run/netns/${netns}`)).toBe(false);
}

// (Sweep first: what a killed earlier run left is removed by the first startDockerd anyway.)
sweepStaleDockerFixtures();
const globalsBefore = ['/run/docker', '/run/containerd', '/run/netns', '/run/mount'].map(
  (p) => [p, existsSync(p)] as const,
);

describe('startDockerd', () => {
  it('runs busybox on a host-namespace engine and cleans up after a running container', async () => {
    const linksBefore = hostLinks();
    const host = await startDockerd({ name: 'self' });
    try {
      expect(host.host).toBe(`unix://${host.dir}/docker.sock`);
      expect(host.host.length).toBeLessThan(100);
      expect(host.netns).toBeUndefined();
      expect(readFileSync(join(host.dir, 'docker.pid'), 'utf8').trim()).toBe(String(host.pid));
      expect(pidAlive(host.pid)).toBe(true);

      const image = await ensureBusyboxImage(host);
      expect(image).toBe(BUSYBOX_IMAGE);
      expect(await ensureBusyboxImage(host)).toBe(image);
      const hi = await host.docker(['run', '--rm', '--net', 'none', image, 'echo', 'hi']);
      expect(hi.stdout.trim()).toBe('hi');
      const tools = await host.docker([
        'run',
        '--rm',
        '--net',
        'none',
        image,
        'sh',
        '-c',
        'cat /etc/passwd; which ip ifconfig hostname sleep',
      ]);
      expect(tools.stdout).toContain('root:x:0:0');
      expect(tools.stdout).toContain('/sbin/ip');

      const failed = await host.docker(['run', '--rm', '--net', 'none', image, 'false'], {
        allowFail: true,
      });
      expect(failed.code).toBe(1);
      await expect(host.docker(['image', 'inspect', 'no-such-image'])).rejects.toThrow(
        /exited with code 1/,
      );

      // A hung call is cut off; the container it started is left for stop() to remove.
      await expect(
        host.docker(['run', '--net', 'none', '--name', 'sleeper', image, 'sleep', '600'], {
          timeoutMs: 1500,
        }),
      ).rejects.toThrow(/timed out after 1500 ms/);
      const ps = await host.docker(['ps', '--format', '{{.Names}}']);
      expect(ps.stdout).toContain('sleeper');
      expect(mountsUnder([host.dir]).length).toBeGreaterThan(0);
    } finally {
      await stopAndExpectClean(host, linksBefore);
    }
  });

  it('runs an engine in its own netns whose bridges and netns are removed', async () => {
    const linksBefore = hostLinks();
    const host = await startDockerd({ name: 'ns', netns: true });
    try {
      expect(host.netns).toMatch(/^ipamt-ns-[0-9a-f]{8}$/);
      expect(netnsList()).toContain(host.netns);
      const image = await ensureBusyboxImage(host);
      const hi = await host.docker(['run', '--rm', '--net', 'none', image, 'echo', 'hi']);
      expect(hi.stdout.trim()).toBe('hi');

      const created = await host.docker([
        'network',
        'create',
        '--subnet',
        '10.231.0.0/24',
        'selftest',
      ]);
      const bridge = `br-${created.stdout.trim().slice(0, 12)}`;
      const inNs = await host.exec('ip', ['-o', 'link', 'show']);
      expect(inNs.stdout).toContain(bridge);
      expect(hostLinks()).not.toContain(bridge);
      const addr = await host.docker([
        'run',
        '--rm',
        '--net',
        'selftest',
        '--ip',
        '10.231.0.9',
        image,
        'ip',
        '-4',
        '-o',
        'addr',
        'show',
        'eth0',
      ]);
      expect(addr.stdout).toContain('10.231.0.9/24');
      await host.docker(['run', '-d', '--net', 'selftest', image, 'sleep', '600']);
    } finally {
      await stopAndExpectClean(host, linksBefore);
    }
  });

  it('removes the netns and directory when the start fails', async () => {
    const before = dirsStartingWith('dk-broken-');
    await expect(
      startDockerd({
        name: 'broken',
        netns: true,
        extraArgs: ['--no-such-flag'],
        timeoutMs: 10_000,
      }),
    ).rejects.toThrow(/dockerd fixture broken did not start: dockerd exited/);
    expect(dirsStartingWith('dk-broken-')).toEqual(before);
    expect(netnsList().filter((n) => n.startsWith('ipamt-broken-'))).toEqual([]);
  });

  it('sweeps what a killed test process left behind', async () => {
    const id = randomBytes(4).toString('hex');
    const dir = mkdtempSync(join(tmpdir(), 'dk-stale-'));
    const netns = `ipamt-stale-${id}`;
    const cgroupParent = `/ipamtest-stale-${id}`;
    const deadOwner = { pid: spawnSync('true').pid ?? 1, start: 'gone' };
    writeFileSync(
      join(dir, 'owner.json'),
      JSON.stringify({ kind: 'dockerd', name: 'stale', netns, cgroupParent, owner: deadOwner }),
    );
    const netnsDir = { existed: existsSync(NETNS_DIR), mounted: isMountPoint(NETNS_DIR) };
    runSync('ip', ['netns', 'add', netns]);
    const cgroup = join('/sys/fs/cgroup/pids', cgroupParent);
    mkdirSync(cgroup);
    // A leftover "engine" process (its command line names the dir) with a child in its cgroup.
    const leftover = spawn(
      'sh',
      ['-c', `echo $$ > ${cgroup}/cgroup.procs; sleep 600 & wait`, `${dir}/x`],
      {
        stdio: 'ignore',
      },
    );
    const shPid = leftover.pid ?? -1;
    await waitFor('the leftover process to join its cgroup', 5000, async () =>
      readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim().split('\n').length >= 2
        ? true
        : undefined,
    );
    const pids = readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);

    expect(sweepStaleDockerFixtures()).toEqual([dir]);
    expect(existsSync(dir)).toBe(false);
    expect(netnsList()).not.toContain(netns);
    expect(existsSync(cgroup)).toBe(false);
    expect([shPid, ...pids].filter(pidAlive)).toEqual([]);
    expect(sweepStaleDockerFixtures()).toEqual([]);
    // A global directory stays: it existed before this run, whoever made it.
    expect(existsSync(NETNS_DIR)).toBe(true);
    // Here this test made it (`ip netns add` bind-mounts it on itself the first time).
    if (!netnsDir.mounted && isMountPoint(NETNS_DIR)) {
      keepingRunMountAbsent(() => runSync('umount', [NETNS_DIR]));
    }
    if (!netnsDir.existed) {
      rmdirSync(NETNS_DIR);
    }
  });

  it('keeps a global directory that existed before its start, also when it sweeps a killed run', async () => {
    // What `npm run dev` leaves behind: /run/docker/plugins, made by the plugin for its socket.
    const made = makeDirs('/run/docker/plugins');
    try {
      // A killed test process's engine: startDockerd sweeps it first.
      const stale = mkdtempSync(join(tmpdir(), 'dk-stale-'));
      const id = randomBytes(4).toString('hex');
      const deadOwner = { pid: spawnSync('true').pid ?? 1, start: 'gone' };
      writeFileSync(
        join(stale, 'owner.json'),
        JSON.stringify({
          kind: 'dockerd',
          name: 'stale',
          cgroupParent: `/ipamtest-stale-${id}`,
          owner: deadOwner,
        }),
      );
      const host = await startDockerd({ name: 'pre' });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync('/run/docker/plugins')).toBe(true);
      await host.stop();
      expect(existsSync('/run/docker/plugins')).toBe(true);
    } finally {
      made.toReversed().forEach(removeDirIfThere);
    }
  });

  it('removes only the empty directories of a global one it made, not what others put there', async (ctx) => {
    const dir = ['/run/containerd', '/run/docker'].find((d) => !existsSync(d));
    if (dir === undefined) {
      ctx.skip('/run/containerd and /run/docker both exist: no global directory to make');
      return;
    }
    const host = await startDockerd({ name: 'foreign' });
    // Another program's file (a plugin's socket) in a global directory made during the tests.
    const foreign = join(dir, 'foreign.sock');
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(foreign, '');
      await host.stop();
      expect(readdirSync(dir)).toEqual(['foreign.sock']);
    } finally {
      await host.stop();
      rmSync(foreign, { force: true });
      removeDirIfThere(dir);
    }
  });

  it('leaves no global dockerd state behind', () => {
    for (const [path, existed] of globalsBefore) {
      expect({ path, exists: existsSync(path) }).toEqual({ path, exists: existed });
    }
  });
});

describe('registerPluginSpec', () => {
  it('writes a spec file, removes it, and never overwrites a foreign one', async () => {
    const dirExisted = existsSync(PLUGIN_SPEC_DIR);
    const driver = `selftest-${process.pid}`;
    const spec = join(PLUGIN_SPEC_DIR, `${driver}.spec`);
    const remove = registerPluginSpec(driver, '/tmp/selftest-plugin.sock');
    expect(readFileSync(spec, 'utf8')).toBe('unix:///tmp/selftest-plugin.sock');
    // ours may be rewritten
    const removeAgain = registerPluginSpec(driver, '/tmp/selftest-other.sock');
    expect(readFileSync(spec, 'utf8')).toBe('unix:///tmp/selftest-other.sock');
    await remove();
    expect(existsSync(spec)).toBe(true);
    await removeAgain();
    expect(existsSync(spec)).toBe(false);
    expect(existsSync(PLUGIN_SPEC_DIR)).toBe(dirExisted);

    const foreignDriver = `selftest-foreign-${process.pid}`;
    const foreign = join(PLUGIN_SPEC_DIR, `${foreignDriver}.spec`);
    const removeFirst = registerPluginSpec(`selftest-keep-${process.pid}`, '/tmp/k.sock');
    try {
      writeFileSync(foreign, 'unix:///somewhere/else.sock');
      expect(() => registerPluginSpec(foreignDriver, '/tmp/x.sock')).toThrow(
        /refusing to overwrite/,
      );
      expect(readFileSync(foreign, 'utf8')).toBe('unix:///somewhere/else.sock');
      expect(() => registerPluginSpec('../evil', '/tmp/x.sock')).toThrow(
        /invalid plugin driver name/,
      );
    } finally {
      rmSync(foreign, { force: true });
      await removeFirst();
    }
    expect(existsSync(PLUGIN_SPEC_DIR)).toBe(dirExisted);
  });

  it('removes the spec files of a test process that died', async () => {
    const dirExisted = existsSync(PLUGIN_SPEC_DIR);
    const driver = `selftest-stale-${process.pid}`;
    const spec = join(PLUGIN_SPEC_DIR, `${driver}.spec`);
    const remove = registerPluginSpec(driver, '/tmp/stale.sock');
    const ownerFile = join(tmpdir(), 'ipam-test-plugin-specs', `${driver}.json`);
    const recorded: unknown = JSON.parse(readFileSync(ownerFile, 'utf8'));
    expect(recorded).toMatchObject({ specPath: spec, content: 'unix:///tmp/stale.sock' });
    expect(sweepStalePluginSpecs()).toEqual([]);
    // pretend the writer was killed
    writeFileSync(
      ownerFile,
      JSON.stringify({
        owner: { pid: process.pid, start: 'another-life' },
        specPath: spec,
        content: 'unix:///tmp/stale.sock',
      }),
    );
    expect(sweepStalePluginSpecs()).toEqual([spec]);
    expect(existsSync(spec)).toBe(false);
    expect(existsSync(ownerFile)).toBe(false);
    await remove();
    expect(existsSync(PLUGIN_SPEC_DIR)).toBe(dirExisted);
    expect(existsSync(join(tmpdir(), 'ipam-test-plugin-specs'))).toBe(false);
  });
});
