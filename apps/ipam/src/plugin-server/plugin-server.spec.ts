import type { LoggerService } from '@nestjs/common';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { writeError, writeJson } from './json-wire.js';
import { type CallHandler, PluginServer } from './plugin-server.js';

let dir: string;
const servers: PluginServer[] = [];

interface Reply {
  status: number;
  body: unknown;
}

/** One call on a fresh connection; `written` resolves once the whole request is on the wire. */
function call(
  path: string,
  method: string,
  body = '',
  httpMethod = 'POST',
): { reply: Promise<Reply>; written: Promise<void> } {
  let written!: () => void;
  const done = new Promise<void>((r) => (written = r));
  const reply = new Promise<Reply>((resolve, reject) => {
    const req = request(
      {
        socketPath: path,
        path: `/${method}`,
        method: httpMethod,
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

/** A call that is on the wire and, having had a moment to arrive, waits for the app. */
async function waitingCall(path: string, method: string, body: string) {
  const sent = call(path, method, body);
  await sent.written;
  await new Promise((r) => setTimeout(r, 20));
  return sent;
}

function recordingLogger(): LoggerService & { lines: string[]; events: object[] } {
  const lines: string[] = [];
  const events: object[] = [];
  const keep =
    (level: string) =>
    (message: unknown): void => {
      if (typeof message === 'object' && message !== null && 'msg' in message) {
        events.push(message);
        lines.push(`${level} ${String(message.msg)}`);
      } else {
        lines.push(`${level} ${String(message)}`);
      }
    };
  return {
    lines,
    events,
    log: keep('info'),
    debug: keep('debug'),
    warn: keep('warn'),
    error: keep('error'),
  };
}

async function open(path: string, logger = recordingLogger()): Promise<PluginServer> {
  const server = await PluginServer.open(path, logger);
  servers.push(server);
  return server;
}

/** A server with `routes` and a fallback that answers 404 as Express would, already attached. */
async function serving(
  routes: Record<string, CallHandler>,
  fallback = vi.fn<CallHandler>((req, res) =>
    writeError(res, 404, `Cannot ${req.method ?? ''} ${req.url ?? ''}`),
  ),
) {
  const path = join(dir, 'p.sock');
  const logger = recordingLogger();
  const server = await open(path, logger);
  for (const [route, handler] of Object.entries(routes)) {
    server.route(route, handler);
  }
  server.attach(fallback);
  return { path, server, fallback, logger };
}

const answer: CallHandler = (_req, res) => writeJson(res, 200, { ok: true });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipam-listener-'));
});

afterEach(async () => {
  for (const s of servers.splice(0)) {
    await s.abandon('test over', 0);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('PluginServer', () => {
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

  it('should answer the handshake with the same route before and after the app is attached', async () => {
    const path = join(dir, 'handshake.sock');
    const server = await open(path);
    const before = await call(path, 'IpamDriver.GetDefaultAddressSpaces').reply;
    const fallback = vi.fn<CallHandler>(answer);
    server.attach(fallback);
    const after = await call(path, 'IpamDriver.GetDefaultAddressSpaces').reply;
    const spaces = {
      LocalDefaultAddressSpace: 'kontenalocal',
      GlobalDefaultAddressSpace: 'kontenaglobal',
    };
    expect(before).toEqual({ status: 200, body: spaces });
    expect(after).toEqual({ status: 200, body: spaces });
    expect(fallback).not.toHaveBeenCalled();
  });

  it('should hand calls that waited to the app in arrival order', async () => {
    const path = join(dir, 'attach.sock');
    const server = await open(path);
    const first = await waitingCall(path, 'IpamDriver.RequestPool', '{"n":1}\n');
    const second = await waitingCall(path, 'IpamDriver.RequestPool', '{"n":2}\n');
    const seen: string[] = [];
    server.attach((req, res) => {
      seen.push(JSON.stringify((req as { body?: unknown }).body));
      writeJson(res, 200, { seen: seen.length });
    });
    expect((await first.reply).body).toEqual({ seen: 1 });
    expect((await second.reply).body).toEqual({ seen: 2 });
    expect(seen).toEqual(['{"n":1}', '{"n":2}']);
  });

  it('should report listening only while it serves the app', async () => {
    const path = join(dir, 'status.sock');
    const server = await open(path);
    expect(server.status()).toEqual({ ok: false, detail: `not listening on ${path} (loading)` });
    server.attach(answer);
    expect(server.status()).toEqual({ ok: true, detail: 'ok' });
    await server.close(100);
    expect(server.status()).toEqual({ ok: false, detail: `not listening on ${path} (closed)` });
    expect(existsSync(path)).toBe(false);
  });

  it('should remove its socket file at once (a crash) only while the file is still its own', async () => {
    const path = join(dir, 'crash.sock');
    const server = await open(path);
    renameSync(path, `${path}.ours`);
    writeFileSync(path, 'a successor');
    server.removeFile();
    expect(readFileSync(path, 'utf8')).toBe('a successor');
    renameSync(`${path}.ours`, path);
    server.removeFile();
    expect(existsSync(path)).toBe(false);
  });

  describe('dispatch', () => {
    it.each([
      { name: 'the exact path', method: 'POST', path: '/IpamDriver.RequestAddress', to: 'route' },
      // As Express routes a query string to the method.
      {
        name: 'a query string',
        method: 'POST',
        path: '/IpamDriver.RequestAddress?x=1',
        to: 'route',
      },
      { name: 'another verb', method: 'GET', path: '/IpamDriver.RequestAddress', to: 'fallback' },
      { name: 'an unknown path', method: 'POST', path: '/IpamDriver.Nope', to: 'fallback' },
      { name: 'other case', method: 'POST', path: '/ipamdriver.requestaddress', to: 'fallback' },
      {
        name: 'a trailing slash',
        method: 'POST',
        path: '/IpamDriver.RequestAddress/',
        to: 'fallback',
      },
    ])('should hand $name to the $to', async ({ method, path, to }) => {
      const route = vi.fn<CallHandler>((req, res) =>
        writeJson(res, 200, { body: (req as { body?: unknown }).body }),
      );
      const running = await serving({ '/IpamDriver.RequestAddress': route });
      const reply = await call(running.path, path.slice(1), '{"PoolID":"p"}\n', method).reply;
      const toRoute = to === 'route';
      expect({
        reply,
        route: route.mock.calls.length,
        fallback: running.fallback.mock.calls.length,
      }).toEqual({
        // A routed call's body was read and parsed before its handler ran.
        reply: toRoute
          ? { status: 200, body: { body: { PoolID: 'p' } } }
          : {
              status: 404,
              body: { Err: `Cannot ${method} ${path}`, Error: `Cannot ${method} ${path}` },
            },
        route: toRoute ? 1 : 0,
        fallback: toRoute ? 0 : 1,
      });
    });

    it('should answer a bad body itself, before any handler', async () => {
      const route = vi.fn<CallHandler>(answer);
      const running = await serving({ '/IpamDriver.RequestPool': route });
      const reply = await call(running.path, 'IpamDriver.RequestPool', '[]').reply;
      expect(reply).toEqual({
        status: 400,
        body: {
          Err: 'invalid request body: expected a JSON object, got an array',
          Error: 'invalid request body: expected a JSON object, got an array',
        },
      });
      expect(route).not.toHaveBeenCalled();
    });

    it('should answer 500 in the plugin error shape when the handler rejects', async () => {
      const running = await serving({
        '/IpamDriver.RequestPool': () => Promise.reject(new Error('boom')),
      });
      const reply = await call(running.path, 'IpamDriver.RequestPool').reply;
      expect(reply).toEqual({
        status: 500,
        body: { Err: 'internal error: boom', Error: 'internal error: boom' },
      });
      expect(running.logger.lines).toContain('error POST /IpamDriver.RequestPool: boom');
    });

    it('should answer 500 when the handler throws, and go on serving', async () => {
      let throwing = true;
      const running = await serving({
        '/IpamDriver.RequestPool': (req, res, next) => {
          if (throwing) {
            throw new Error('handler threw');
          }
          answer(req, res, next);
        },
      });
      const reply = await call(running.path, 'IpamDriver.RequestPool').reply;
      expect(reply.status).toBe(500);
      expect(reply.body).toMatchObject({ Err: 'internal error: handler threw' });
      throwing = false;
      expect((await call(running.path, 'IpamDriver.RequestPool').reply).status).toBe(200);
    });

    it('should answer 500 when the handler passes the call on instead of answering', async () => {
      const running = await serving({ '/IpamDriver.RequestPool': (_req, _res, next) => next() });
      const reply = await call(running.path, 'IpamDriver.RequestPool').reply;
      expect(reply.status).toBe(500);
      expect(reply.body).toMatchObject({ Err: 'internal error: no handler answered' });
    });

    it('should log one line per call: debug with the reply, warn with the Err of a 4xx', async () => {
      const running = await serving({ '/IpamDriver.RequestPool': answer });
      await call(running.path, 'IpamDriver.RequestPool').reply;
      await call(running.path, 'IpamDriver.Nope').reply;
      const calls = running.logger.lines.filter((l) => l.includes(' /IpamDriver.'));
      expect(calls).toEqual([
        expect.stringMatching(/^debug POST \/IpamDriver\.RequestPool 200 \d+\.\dms \{"ok":true\}$/),
        expect.stringMatching(
          /^warn POST \/IpamDriver\.Nope 404 \d+\.\dms: Cannot POST \/IpamDriver\.Nope$/,
        ),
      ]);
      // The fields of LOG_FORMAT=json: the call (a path outside the route table is `other`).
      expect(running.logger.events).toEqual([
        expect.objectContaining({
          call: 'IpamDriver.RequestPool',
          status: 200,
          duration: expect.any(Number),
        }),
        expect.objectContaining({ call: 'other', status: 404 }),
      ]);
    });
  });

  describe('abandon', () => {
    it('should answer waiting calls with 503, and calls on the wire during the grace too', async () => {
      const path = join(dir, 'abandon.sock');
      const server = await open(path);
      const waiting = await waitingCall(path, 'IpamDriver.RequestPool', '{}\n');
      const abandoned = server.abandon('stopping for the test', 200);
      const refused = {
        status: 503,
        body: { Err: 'stopping for the test', Error: 'stopping for the test' },
      };
      const late = call(path, 'IpamDriver.RequestAddress', '{}\n');
      expect(await waiting.reply).toEqual(refused);
      expect(await late.reply).toEqual(refused);
      await abandoned;
      expect(existsSync(path)).toBe(false);
      expect(server.status().ok).toBe(false);
    });

    it('should be idempotent', async () => {
      const path = join(dir, 'twice.sock');
      const server = await open(path);
      const a = server.abandon('one', 10);
      const b = server.abandon('two', 10);
      expect(a).toBe(b);
      await a;
      expect(existsSync(path)).toBe(false);
    });

    it('should be what close does before the app is attached', async () => {
      const path = join(dir, 'early-close.sock');
      const server = await open(path);
      const waiting = await waitingCall(path, 'IpamDriver.RequestPool', '{}\n');
      await server.close(1_000);
      expect((await waiting.reply).status).toBe(503);
      expect(existsSync(path)).toBe(false);
    });
  });
});
