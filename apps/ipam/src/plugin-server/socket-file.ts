import { lstatSync, unlinkSync } from 'node:fs';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';

/**
 * The socket file is no wider than 0660: whoever can write to it can allocate addresses. Its
 * directory is created 0755, like dockerd's /run/docker/plugins.
 */
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
 * Makes `path` ready for `listen()`: creates its directory, refuses when another process answers
 * on it (a second plugin), removes a stale socket left by a crashed run. Anything at the path
 * that is not a socket is left alone: deleting a file someone put there by mistake is not our
 * call.
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
  removeSocket(path);
}

/**
 * Prepares `path`, makes `server` listen on it and restricts the file to {@link SOCKET_MODE}.
 * Returns the file's inode, so that {@link removeSocket} later removes only our own file.
 */
export async function listenOnSocket(server: Server, path: string): Promise<bigint> {
  await prepareSocketPath(path);
  // The file is created with the mode the umask leaves; until chmod narrows it to 0660, a umask
  // of 0117 keeps it from being wider. Nothing else runs this early in the process.
  const umask = process.umask(0o117);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  await chmod(path, SOCKET_MODE);
  return (await lstat(path, { bigint: true })).ino;
}

/**
 * Removes the socket file, unless it is gone or has been replaced (another inode) meanwhile.
 * Synchronous: it also runs on the way out of a crashing process.
 */
export function removeSocket(path: string, ino?: bigint): void {
  try {
    if (ino !== undefined && lstatSync(path, { bigint: true }).ino !== ino) {
      return;
    }
    unlinkSync(path);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') {
      throw e;
    }
  }
}
