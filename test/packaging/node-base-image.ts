// A Node base image without a registry: this machine's own node binary, the shared libraries
// it links, npm, the CA bundle, a minimal /etc/passwd and the static busybox for /bin/sh,
// /usr/bin/env and the other tools a Dockerfile's RUN lines use, imported with `docker import`.
// Laid out like the official node images (node and npm in /usr/local/bin), so that a Dockerfile
// written for those builds on it unchanged.
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  cp,
  mkdir,
  mkdtemp,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { DockerHost } from '../support/dockerd.js';
import { errnoCode, run } from '../support/proc.js';

const BUSYBOX_BIN = process.env.BUSYBOX_BIN ?? '/bin/busybox';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface NodeBaseImage {
  /** The image name, for `--build-arg NODE_IMAGE=…`. */
  readonly name: string;
  /** The version of the node inside (this process's own). */
  readonly nodeVersion: string;
  /**
   * A CA file inside the image that npm must trust to reach the registry from here (the host's
   * NODE_EXTRA_CA_CERTS, copied to the same path), for `--build-arg NODE_EXTRA_CA_CERTS=…`.
   */
  readonly extraCaCerts?: string;
}

/** The absolute paths of the shared objects `ldd` lists for `binary` (loader included). */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary], { timeoutMs: 10_000 });
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) {
      libs.push(match[1]);
    }
  }
  if (libs.length === 0) {
    throw new Error(`ldd ${binary} listed no libraries:\n${stdout}`);
  }
  return libs;
}

async function copyInto(rootfs: string, hostPath: string, imagePath = hostPath): Promise<void> {
  const target = join(rootfs, imagePath);
  await mkdir(dirname(target), { recursive: true });
  await copyFile(await realpath(hostPath), target);
}

async function buildRootfs(rootfs: string): Promise<void> {
  for (const d of ['bin', 'etc/ssl/certs', 'root', 'proc', 'sys', 'dev', 'run', 'usr/local/bin']) {
    await mkdir(join(rootfs, d), { recursive: true });
  }
  await mkdir(join(rootfs, 'tmp'), { mode: 0o1777 });
  await chmod(join(rootfs, 'tmp'), 0o1777);

  const node = await realpath(process.execPath);
  await copyInto(rootfs, node, '/usr/local/bin/node');
  await chmod(join(rootfs, 'usr/local/bin/node'), 0o755);
  for (const lib of await sharedLibraries(node)) {
    await copyInto(rootfs, lib);
  }

  const globalModules = (await run('npm', ['root', '-g'], { timeoutMs: 30_000 })).stdout.trim();
  const npmDir = join(globalModules, 'npm');
  if (!existsSync(join(npmDir, 'bin/npm-cli.js'))) {
    throw new Error(`npm not found in ${globalModules}`);
  }
  await cp(npmDir, join(rootfs, 'usr/local/lib/node_modules/npm'), {
    recursive: true,
    dereference: true,
  });
  await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
  await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));

  if (!existsSync(BUSYBOX_BIN)) {
    throw new Error(`${BUSYBOX_BIN} not found (apt-get install busybox-static)`);
  }
  await copyFile(BUSYBOX_BIN, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  const applets = (await run(BUSYBOX_BIN, ['--list-full'], { timeoutMs: 10_000 })).stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && l !== 'bin/busybox' && !l.includes('..'));
  for (const applet of applets) {
    const target = join(rootfs, applet);
    await mkdir(dirname(target), { recursive: true });
    await symlink('/bin/busybox', target).catch((e: unknown) => {
      if (errnoCode(e) !== 'EEXIST') {
        throw e;
      }
    });
  }

  if (existsSync(CA_BUNDLE)) {
    await copyInto(rootfs, CA_BUNDLE);
  }
  await writeFile(
    join(rootfs, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

/**
 * Imports the Node base image `name` into the engine (idempotent). The root file system is put
 * together in the fixture's directory and removed again.
 */
export async function ensureNodeBaseImage(host: DockerHost, name: string): Promise<NodeBaseImage> {
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  const extraCaCerts = extraCa && existsSync(extraCa) ? extraCa : undefined;
  const existing = await host.docker(['image', 'inspect', '--format', '{{.Id}}', name], {
    allowFail: true,
    timeoutMs: 30_000,
  });
  if (existing.code !== 0) {
    const work = await mkdtemp(join(host.dir, 'node-image-'));
    try {
      const rootfs = join(work, 'rootfs');
      await buildRootfs(rootfs);
      if (extraCaCerts && !existsSync(join(rootfs, extraCaCerts))) {
        await copyInto(rootfs, extraCaCerts);
      }
      const tarFile = join(work, 'rootfs.tar');
      await run('tar', ['-C', rootfs, '-cf', tarFile, '.'], { timeoutMs: 120_000 });
      await host.docker(
        ['import', '--change', `ENV PATH=${IMAGE_PATH}`, '--change', 'CMD ["node"]', tarFile, name],
        { timeoutMs: 180_000 },
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  return { name, nodeVersion: process.version, extraCaCerts };
}
