import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';

import type { NodeIdStatus, StoreStatus } from '#app/store';

import type { ListenerStatus } from '../plugin-server/plugin-server.js';
import { HealthServer, readiness } from './health-server.js';

const LOOPBACK = { host: '127.0.0.1', port: 0 };
const logged: string[] = [];
const logger = { log: (m: unknown) => logged.push(String(m)), warn: () => 0, error: () => 0 };

interface Fakes {
  etcd: StoreStatus;
  socket: ListenerStatus;
  nodeId: NodeIdStatus;
}

const running: HealthServer[] = [];

/** A health server the app has been attached to (`fakes` undefined: still starting). */
async function start(fakes: Fakes | undefined): Promise<number> {
  const server = await HealthServer.open(LOOPBACK, logger);
  running.push(server);
  if (fakes !== undefined) {
    server.attach(() => readiness(fakes.etcd, fakes.socket, fakes.nodeId));
  }
  return server.address.port;
}

function get(port: number, path: string, method = 'GET') {
  return new Promise<{ status: number; contentType?: string; body: unknown }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          body: JSON.parse(text),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const UP: Fakes = {
  etcd: { ready: true, detail: 'ok' },
  socket: { ok: true, detail: 'ok' },
  nodeId: { ok: true, detail: 'ok' },
};

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

describe('HealthServer', () => {
  it('GET /healthz is 200 while the app is still loading', async () => {
    const port = await start(undefined);
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(logged).toContain(`serving /healthz, /readyz and /metrics on 127.0.0.1:${port}`);
  });

  it('GET /healthz is 200 whatever etcd does', async () => {
    const port = await start({ ...UP, etcd: { ready: false, detail: 'etcd is unreachable' } });
    expect(await get(port, '/healthz')).toEqual({
      status: 200,
      contentType: 'application/json',
      body: { status: 'ok' },
    });
  });

  it.each([
    {
      name: 'app still loading',
      fakes: undefined,
      status: 503,
      body: { status: 'not ready', checks: { app: 'starting' } },
    },
    {
      name: 'all up',
      fakes: UP,
      status: 200,
      body: { status: 'ready', checks: { etcd: 'ok', socket: 'ok', 'node-id': 'ok' } },
    },
    {
      name: 'etcd down',
      fakes: { ...UP, etcd: { ready: false, detail: 'etcd is unreachable at http://e:2379' } },
      status: 503,
      body: {
        status: 'not ready',
        checks: { etcd: 'etcd is unreachable at http://e:2379', socket: 'ok', 'node-id': 'ok' },
      },
    },
    {
      name: 'socket not listening',
      fakes: { ...UP, socket: { ok: false, detail: 'not listening on /p.sock (loading)' } },
      status: 503,
      body: {
        status: 'not ready',
        checks: { etcd: 'ok', socket: 'not listening on /p.sock (loading)', 'node-id': 'ok' },
      },
    },
    {
      name: 'NODE_ID held by another live plugin',
      fakes: {
        ...UP,
        nodeId: { ok: false, detail: 'NODE_ID n1 is also held by a live kontena-ipam on host b' },
      },
      status: 503,
      body: {
        status: 'not ready',
        checks: {
          etcd: 'ok',
          socket: 'ok',
          'node-id': 'NODE_ID n1 is also held by a live kontena-ipam on host b',
        },
      },
    },
  ])('GET /readyz: $name', async ({ fakes, status, body }) => {
    const port = await start(fakes);
    expect(await get(port, '/readyz')).toEqual({ status, contentType: 'application/json', body });
  });

  it("GET /metrics serves Prometheus's text format, the plugin's metrics included", async () => {
    const port = await start(UP);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain('# TYPE kontena_ipam_requests_total counter');
    expect(text).toContain('# TYPE kontena_ipam_etcd_up gauge');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  });

  it.each([
    { method: 'POST', path: '/healthz' },
    { method: 'POST', path: '/metrics' },
    { method: 'POST', path: '/IpamDriver.RequestPool' },
    { method: 'GET', path: '/' },
  ])('$method $path is a JSON 404 (no plugin call on TCP)', async ({ method, path }) => {
    const port = await start(UP);
    const reply = await get(port, path, method);
    expect(reply.status).toBe(404);
    expect(reply.contentType).toBe('application/json');
    expect(reply.body).toMatchObject({ Err: expect.stringContaining('not found') });
  });

  it('ignores the query string', async () => {
    const port = await start(UP);
    expect((await get(port, '/healthz?verbose=1')).status).toBe(200);
  });
});
