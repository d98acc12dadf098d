import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';

import type { RequestHandler } from '@nestjs/common/interfaces/index.js';

import type { Middleware } from './body-reader.js';
import { JsonExpressAdapter } from './json-express-adapter.js';
import { writeJson } from './json-reply.js';

type Handler = RequestHandler<IncomingMessage, ServerResponse>;

let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** An adapter with `routes` registered as Nest would, served on a loopback port. */
async function serve(
  routes: Record<string, Handler>,
  middleware: Middleware[] = [],
): Promise<{ adapter: JsonExpressAdapter; port: number; express: { handle: unknown } }> {
  const adapter = new JsonExpressAdapter();
  adapter.useCallMiddleware(...middleware);
  for (const [path, handler] of Object.entries(routes)) {
    adapter.post(path, handler);
  }
  server = createServer(adapter.handle);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return {
    adapter,
    port: (server.address() as AddressInfo).port,
    express: adapter.getInstance<{ handle: unknown }>(),
  };
}

function call(port: number, method: string, path: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? '{}' : undefined);
  });
}

const answer: Handler = (_req, res) => writeJson(res, 200, { ok: true });

describe('JsonExpressAdapter.handle', () => {
  it('runs the call middleware in order, then the handler of the exact POST path, without Express', async () => {
    const seen: string[] = [];
    const mark =
      (name: string): Middleware =>
      (_req, _res, next) => {
        seen.push(name);
        next();
      };
    const { port, express } = await serve(
      {
        '/IpamDriver.RequestAddress': (req, res, next) => {
          seen.push(`handler ${req.url ?? ''}`);
          answer(req, res, next);
        },
      },
      [mark('log'), mark('body')],
    );
    const viaExpress = vi.spyOn(express as { handle: (...a: unknown[]) => unknown }, 'handle');

    const reply = await call(port, 'POST', '/IpamDriver.RequestAddress');

    expect(reply).toEqual({ status: 200, text: '{"ok":true}' });
    expect(seen).toEqual(['log', 'body', 'handler /IpamDriver.RequestAddress']);
    expect(viaExpress).not.toHaveBeenCalled();
  });

  it.each([
    { name: 'a query string', method: 'POST', path: '/IpamDriver.RequestAddress?x=1' },
    { name: 'another verb', method: 'GET', path: '/IpamDriver.RequestAddress' },
    { name: 'an unknown path', method: 'POST', path: '/IpamDriver.Nope' },
  ])('hands $name to Express, with the same middleware', async ({ method, path }) => {
    const seen: string[] = [];
    const { port, express } = await serve({ '/IpamDriver.RequestAddress': answer }, [
      (req, _res, next) => {
        seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
        next();
      },
    ]);
    const viaExpress = vi.spyOn(express as { handle: (...a: unknown[]) => unknown }, 'handle');

    const reply = await call(port, method, path);

    expect(viaExpress).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([`${method} ${path}`]);
    // Express still routes a query string to the method; the rest has no route here.
    expect(reply.status).toBe(method === 'POST' && path.includes('?') ? 200 : 404);
  });

  it('answers 500 in the plugin error shape when the handler rejects', async () => {
    const { port } = await serve({
      '/IpamDriver.RequestPool': () => Promise.reject(new Error('boom')),
    });
    const reply = await call(port, 'POST', '/IpamDriver.RequestPool');
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.text)).toEqual({
      Err: 'internal error: boom',
      Error: 'internal error: boom',
    });
  });

  it('answers 500 when a middleware passes an error on, without running the handler', async () => {
    const handler = vi.fn<Handler>(answer);
    const { port } = await serve({ '/IpamDriver.RequestPool': handler }, [
      (_req, _res, next) => next(new Error('middleware failed')),
    ]);
    const reply = await call(port, 'POST', '/IpamDriver.RequestPool');
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.text)).toMatchObject({ Err: 'internal error: middleware failed' });
    expect(handler).not.toHaveBeenCalled();
  });

  it('answers 500 when a middleware throws, and goes on serving', async () => {
    let throwing = true;
    const { port } = await serve({ '/IpamDriver.RequestPool': answer }, [
      (_req, _res, next) => {
        if (throwing) {
          throw new Error('middleware threw');
        }
        next();
      },
    ]);
    const reply = await call(port, 'POST', '/IpamDriver.RequestPool');
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.text)).toMatchObject({ Err: 'internal error: middleware threw' });
    throwing = false;
    expect((await call(port, 'POST', '/IpamDriver.RequestPool')).status).toBe(200);
  });

  it('answers 500 when the handler passes the call on instead of answering', async () => {
    const { port } = await serve({ '/IpamDriver.RequestPool': (_req, _res, next) => next?.() });
    const reply = await call(port, 'POST', '/IpamDriver.RequestPool');
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.text)).toMatchObject({ Err: 'internal error: no handler answered' });
  });

  it('sets @HttpCode on a plain Node response', async () => {
    const adapter = new JsonExpressAdapter();
    const res = { statusCode: 201 } as ServerResponse;
    adapter.status(res, 200);
    expect(res.statusCode).toBe(200);
  });
});
