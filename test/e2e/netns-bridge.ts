import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NetnsBridge {
  /** The loopback port inside the namespace that reaches the target. */
  readonly port: number;
  stop(): Promise<void>;
}

/** Pipes two sockets into each other; either one's end or error ends both. */
function splice(a: Socket, b: Socket): void {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
}

/**
 * Inside the namespace: a loopback TCP listener whose connections go to a unix socket. A unix
 * socket is a file, so it reaches across network namespaces; plain JavaScript, run by `node -e`.
 */
const INSIDE = `
const net = require('node:net');
const target = process.argv.at(-1);
const server = net.createServer((c) => {
  const u = net.connect(target);
  c.pipe(u).pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/**
 * Makes `target` (a TCP service of this namespace, such as the tests' etcd on loopback) reachable
 * on `127.0.0.1:<port>` inside network namespace `netns` (under /run/netns), without touching
 * either namespace's interfaces or routes: a unix socket in a temporary directory carries the
 * connections between a listener in each.
 */
export async function bridgeIntoNetns(
  netns: string,
  target: { host: string; port: number },
): Promise<NetnsBridge> {
  const dir = mkdtempSync(join(tmpdir(), 'netns-bridge-'));
  const unixPath = join(dir, 'bridge.sock');
  const outside = createServer((c) => splice(c, connect(target.port, target.host)));
  await new Promise<void>((resolve, reject) => {
    outside.once('error', reject);
    outside.listen(unixPath, resolve);
  });
  const inside = spawn(
    'nsenter',
    [`--net=/run/netns/${netns}`, process.execPath, '-e', INSIDE, unixPath],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = async (): Promise<void> => {
    if (inside.exitCode === null && inside.signalCode === null) {
      inside.kill('SIGKILL');
      await new Promise((resolve) => inside.once('exit', resolve));
    }
    await new Promise((resolve) => outside.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no port from the bridge: ${out}`)), 10_000);
      inside.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const match = /^(\d+)\n/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      inside.stderr.on('data', (b: Buffer) => (out += b.toString()));
      inside.once('exit', (code) => reject(new Error(`bridge exited (${code}): ${out}`)));
    });
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
