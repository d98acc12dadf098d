import { existsSync, mkdtempSync, rmSync, statSync, watch } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { PluginListener } from './plugin-listener.js';

let dir: string;
const listeners: PluginListener[] = [];

interface Reply {
  status: number;
  body: unknown;
}

/** One call on a fresh connection; `written` resolves once the whole request is on the wire. */
function call(
  path: string,
  method: string,
  body = '',
): { reply: Promise<Reply>; written: Promise<void> } {
  let written!: () => void;
  const done = new Promise<void>((r) => (written = r));
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = request(
      {
        socketPath: path,
        path: `/${method}`,
        method: 'POST',
        agent: false,
        headers: { 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()),
          }),
        );
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error(`${method} was not answered within 5 s`)));
    req.on('error', reject);
    req.on('finish', written);
    req.end(body);
  });
  return { reply, written: done };
}

async function open(path: string): Promise<PluginListener> {
  const listener = await PluginListener.open(path);
  listeners.push(listener);
  return listener;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipam-listener-'));
});

afterEach(async () => {
  for (const l of listeners.splice(0)) {
    await l.abandon('test over', 0);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('PluginListener', () => {
  it('should answer a call sent the moment the socket file appears', async () => {
    // Docker connects as soon as the file exists, possibly before open() has resolved.
    for (let i = 0; i < 20; i++) {
      const path = join(dir, `early-${i}.sock`);
      const appeared = new Promise<void>((resolve) => {
        const watcher = watch(dir, (_event, name) => {
          if (name === `early-${i}.sock` && existsSync(path)) {
            watcher.close();
            resolve();
          }
        });
      });
      const opening = open(path);
      await appeared;
      const { reply } = call(path, 'Plugin.Activate');
      await opening;
      expect(await reply).toEqual({ status: 200, body: { Implements: ['IpamDriver'] } });
    }
  });

  it('should create the socket no wider than 0660', async () => {
    const path = join(dir, 'mode.sock');
    await open(path);
    expect(statSync(path).mode & 0o777).toBe(0o660);
  });

  it('should hand calls that waited to the app in arrival order', async () => {
    const path = join(dir, 'attach.sock');
    const listener = await open(path);
    const first = call(path, 'IpamDriver.RequestPool', '{"n":1}\n');
    await first.written;
    await new Promise((r) => setTimeout(r, 20));
    const second = call(path, 'IpamDriver.RequestPool', '{"n":2}\n');
    await second.written;
    await new Promise((r) => setTimeout(r, 20));
    const seen: string[] = [];
    listener.attach((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push(Buffer.concat(chunks).toString().trim());
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ seen: seen.length }));
      });
    });
    expect((await first.reply).body).toEqual({ seen: 1 });
    expect((await second.reply).body).toEqual({ seen: 2 });
    expect(seen).toEqual(['{"n":1}', '{"n":2}']);
  });

  describe('abandon', () => {
    it('should answer waiting calls with 503, and calls on the wire during the grace too', async () => {
      const path = join(dir, 'abandon.sock');
      const listener = await open(path);
      const waiting = call(path, 'IpamDriver.RequestPool', '{}\n');
      await waiting.written;
      await new Promise((r) => setTimeout(r, 20));
      const abandoned = listener.abandon('stopping for the test', 200);
      const refused = {
        status: 503,
        body: { Err: 'stopping for the test', Error: 'stopping for the test' },
      };
      const late = call(path, 'IpamDriver.RequestAddress', '{}\n');
      expect(await waiting.reply).toEqual(refused);
      expect(await late.reply).toEqual(refused);
      await abandoned;
      expect(existsSync(path)).toBe(false);
      expect(listener.listening).toBe(false);
    });

    it('should be idempotent', async () => {
      const path = join(dir, 'twice.sock');
      const listener = await open(path);
      const a = listener.abandon('one', 10);
      const b = listener.abandon('two', 10);
      expect(a).toBe(b);
      await a;
      expect(existsSync(path)).toBe(false);
    });
  });
});
