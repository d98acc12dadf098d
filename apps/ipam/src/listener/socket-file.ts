import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/** Spec 1.2: the plugin socket is mode 0660 or stricter; its directory is created 0755. */
export const SOCKET_MODE = 0o660;
export const SOCKET_DIR_MODE = 0o755;

const PROBE_TIMEOUT_MS = 1000;

export class SocketInUseError extends Error {
  override readonly name = 'SocketInUseError';
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : undefined;
}

/** 'answers' when something accepts connections on the socket, 'stale' when nothing does. */
export function probeSocket(path: string): Promise<'answers' | 'stale'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const timer = setTimeout(() => {
      // A listener whose backlog is full still exists: better to refuse than to steal its path.
      socket.destroy();
      resolve('answers');
    }, PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('answers');
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      const code = errnoCode(e);
      if (code === 'ECONNREFUSED' || code === 'ENOENT') {
        resolve('stale');
      } else {
        reject(e);
      }
    });
  });
}

/**
 * Makes `path` ready for `listen()` (spec 1.2, A.5): creates its directory, refuses when another
 * process answers on it, removes a stale socket left by a crashed run. Anything at the path that
 * is not a socket is left alone: deleting a file someone put there by mistake is not our call.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: SOCKET_DIR_MODE });
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      return;
    }
    throw e;
  }
  if (!isSocket) {
    throw new Error(`${path} exists and is not a socket; remove it or choose another path`);
  }
  if ((await probeSocket(path)) === 'answers') {
    throw new SocketInUseError(`another plugin is already listening on ${path}`);
  }
  await unlinkIfPresent(path);
}

export async function restrictSocket(path: string): Promise<bigint> {
  await chmod(path, SOCKET_MODE);
  return (await lstat(path, { bigint: true })).ino;
}

/** Removes the socket file, unless it is gone or has been replaced (another inode) meanwhile. */
export async function removeSocket(path: string, ino?: bigint): Promise<void> {
  try {
    const stat = await lstat(path, { bigint: true });
    if (ino !== undefined && stat.ino !== ino) {
      return;
    }
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') {
      return;
    }
    throw e;
  }
  await unlinkIfPresent(path);
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') {
      throw e;
    }
  }
}
