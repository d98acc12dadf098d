import { existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  listenOnSocket,
  prepareSocketPath,
  probeSocket,
  removeSocket,
  SocketInUseError,
} from './socket-file.js';

let dir: string;
const servers: Server[] = [];

function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    servers.push(server);
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/**
 * A socket file nobody listens on, as a SIGKILLed plugin leaves behind. Closing a server would
 * unlink its file, so the file is moved aside while the server closes and then put back.
 */
async function staleSocket(path: string): Promise<void> {
  const server = await listen(path);
  servers.pop();
  renameSync(path, `${path}.aside`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  renameSync(`${path}.aside`, path);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipam-sock-'));
});

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
  );
  rmSync(dir, { recursive: true, force: true });
});

describe('prepareSocketPath', () => {
  it('creates the directory (mkdir -p, 0755)', async () => {
    const path = join(dir, 'run', 'docker', 'plugins', 'kontena-ipam.sock');
    await prepareSocketPath(path);
    expect(statSync(join(dir, 'run', 'docker', 'plugins')).mode & 0o777).toBe(0o755);
    expect(existsSync(path)).toBe(false);
  });

  it('removes a stale socket', async () => {
    const path = join(dir, 'p.sock');
    await staleSocket(path);
    expect(existsSync(path)).toBe(true);
    expect(await probeSocket(path)).toBe('stale');
    await prepareSocketPath(path);
    expect(existsSync(path)).toBe(false);
  });

  it('refuses when another process answers on the socket', async () => {
    const path = join(dir, 'p.sock');
    await listen(path);
    await expect(prepareSocketPath(path)).rejects.toThrow(SocketInUseError);
    await expect(prepareSocketPath(path)).rejects.toThrow(
      `another plugin is already listening on ${path}`,
    );
    expect(existsSync(path)).toBe(true);
  });

  it('leaves a file that is not a socket alone', async () => {
    const path = join(dir, 'p.sock');
    writeFileSync(path, 'precious');
    await expect(prepareSocketPath(path)).rejects.toThrow(/exists and is not a socket/);
    expect(existsSync(path)).toBe(true);
  });
});

describe('listenOnSocket / removeSocket', () => {
  it('sets mode 0660 and removes only the socket it created', async () => {
    const path = join(dir, 'p.sock');
    const server = createServer();
    servers.push(server);
    const ino = await listenOnSocket(server, path);
    expect(statSync(path).mode & 0o777).toBe(0o660);
    removeSocket(path, ino + 1n);
    expect(existsSync(path)).toBe(true);
    removeSocket(path, ino);
    expect(existsSync(path)).toBe(false);
  });

  it('replaces a stale socket and refuses a live one', async () => {
    const path = join(dir, 'p.sock');
    await staleSocket(path);
    const server = createServer();
    servers.push(server);
    await listenOnSocket(server, path);
    expect(await probeSocket(path)).toBe('answers');
    await expect(listenOnSocket(createServer(), path)).rejects.toThrow(SocketInUseError);
  });

  it('ignores a socket that is already gone', () => {
    expect(() => removeSocket(join(dir, 'gone.sock'))).not.toThrow();
  });
});
