import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Agent, request } from 'node:http';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { AddressAllocator, PoolAllocator } from '#app/allocator';
import { AddressInUse, PoolNotFound } from '#app/ipam';
import { Addr, Prefix } from '#app/net';
import { EtcdConnection, NodeRegistration, StoreUnavailable } from '#app/store';
import type { IpamConfig } from '#app/config';
import { captureNestLogs, IpamLogger } from '#app/logging';

import { AppModule } from '../app.module.js';
import { HealthServer } from '../health/health-server.js';
import {
  PLUGIN_APP_OPTIONS,
  PluginHttpAdapter,
  servePluginApp,
} from '../plugin-server/nest-adapter.js';
import { PluginServer } from '../plugin-server/plugin-server.js';

// ---------------------------------------------------------------- harness

const dir = mkdtempSync(join(tmpdir(), 'ipam-ctl-'));

function configFor(socketPath: string): IpamConfig {
  return {
    nodeId: 'node-1',
    etcd: { endpoints: ['http://127.0.0.1:1'], prefix: '/kontena/ipam', waitTimeoutSeconds: 1 },
    logLevel: 'error',
    logFormat: 'text',
    supernets: [{ supernet: '10.80.0.0/12', subnetLength: 24 }],
    subnetLength: 24,
    subnet6Length: 64,
    socketPath,
    driverName: 'kontena-ipam',
    avoidHostRoutes: false,
    health: { host: '127.0.0.1', port: 0 },
    dockerHost: 'unix:///var/run/docker.sock',
    metricsRecording: true,
  };
}

const pools = {
  requestPool: vi.fn<PoolAllocator['requestPool']>(),
  releasePool: vi.fn<PoolAllocator['releasePool']>(),
};
const addresses = {
  requestAddress: vi.fn<AddressAllocator['requestAddress']>(),
  releaseAddress: vi.fn<AddressAllocator['releaseAddress']>(),
};
const destroyed: string[] = [];
const store = {
  status: () => ({ ready: false, detail: 'etcd is unreachable at http://127.0.0.1:1' }),
  onModuleDestroy: () => {
    destroyed.push('store');
  },
};

/** No registration under the NODE_ID: these tests have no etcd. */
const registration = { status: () => ({ ok: true, detail: 'ok' }) };

function allocatorCalls(): number {
  return [pools.requestPool, pools.releasePool, addresses.requestAddress, addresses.releaseAddress]
    .map((fn) => fn.mock.calls.length)
    .reduce((a, b) => a + b, 0);
}

interface Running {
  app: INestApplication;
  socketPath: string;
  server: PluginServer;
}

let sockets = 0;

/** The plugin as main.ts builds it, with fake allocators and store, on a fresh unix socket. */
async function startPlugin(): Promise<Running> {
  const socketPath = join(dir, `p${++sockets}.sock`);
  const logger = new IpamLogger('error', { out: () => undefined, err: () => undefined });
  const server = await PluginServer.open(socketPath, logger);
  const health = await HealthServer.open({ host: '127.0.0.1', port: 0 }, logger);
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot(configFor(socketPath), { socket: server, health }, '0.0.0-test')],
  })
    .overrideProvider(PoolAllocator)
    .useValue(pools)
    .overrideProvider(AddressAllocator)
    .useValue(addresses)
    .overrideProvider(EtcdConnection)
    .useValue(store)
    .overrideProvider(NodeRegistration)
    .useValue(registration)
    .compile();
  const app = moduleRef.createNestApplication(new PluginHttpAdapter(server), {
    ...PLUGIN_APP_OPTIONS,
    logger,
  });
  await servePluginApp(app, server);
  return { app, socketPath, server };
}

interface Reply {
  status: number;
  contentType: string | undefined;
  text: string;
  body: unknown;
}

interface CallOptions {
  method?: string;
  /** Sent as is; dockerd sends JSON + "\n", or nothing for the handshake calls. */
  body?: string | Buffer;
  /** Stream the body without Content-Length (chunked). */
  chunked?: boolean;
  agent?: Agent;
}

/** Speaks like dockerd's plugin client: POST, no Content-Type, its Accept and Host headers. */
function call(socketPath: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const { method = 'POST', body, chunked = false, agent } = options;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      Accept: 'application/vnd.docker.plugins.v1.2+json',
      Host: 'plugin.moby.localhost',
      'User-Agent': 'Go-http-client/1.1',
    };
    if (!chunked) {
      headers['Content-Length'] = body === undefined ? 0 : Buffer.byteLength(body);
    }
    const req = request({ socketPath, method, path, headers, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          text,
          body: parsed,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function dockerJson(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

function err(message: string): { Err: string; Error: string } {
  return { Err: message, Error: message };
}

// ---------------------------------------------------------------- tests

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('MACs asked for (RequiresMACAddress)', () => {
  it('tells the allocator so only once GetCapabilities was answered, and remembers it beside the socket', async () => {
    const running = await startPlugin();
    try {
      addresses.requestAddress.mockResolvedValue({ address: '10.81.0.9/16', data: {} });
      const aux = dockerJson({ PoolID: 'kontena', Address: '10.81.0.9', Options: null });
      // A dockerd that activated another plugin process (an older version?): --ip looks like this.
      await call(running.socketPath, '/IpamDriver.RequestAddress', { body: aux });
      expect(addresses.requestAddress).toHaveBeenLastCalledWith(
        expect.objectContaining({ macsRequested: false }),
      );
      await call(running.socketPath, '/IpamDriver.GetCapabilities');
      await call(running.socketPath, '/IpamDriver.RequestAddress', { body: aux });
      expect(addresses.requestAddress).toHaveBeenLastCalledWith(
        expect.objectContaining({ macsRequested: true }),
      );
      expect(statSync(running.server.macs.markerPath).isFile()).toBe(true);
    } finally {
      await running.app.close();
      vi.resetAllMocks();
    }
  });
});

describe('plugin API over the unix socket', () => {
  let running: Running;
  let socketPath: string;

  beforeAll(async () => {
    running = await startPlugin();
    socketPath = running.socketPath;
  });

  afterAll(async () => {
    await running.app.close();
  });

  beforeEach(() => {
    vi.resetAllMocks();
  });

  it('listens on a socket of mode 0660', () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o660);
  });

  describe('handshake (empty bodies, never touches the allocators)', () => {
    it.each([
      { path: '/Plugin.Activate', body: { Implements: ['IpamDriver'] } },
      {
        path: '/IpamDriver.GetCapabilities',
        body: { RequiresMACAddress: true, RequiresRequestReplay: false },
      },
      {
        path: '/IpamDriver.GetDefaultAddressSpaces',
        body: {
          LocalDefaultAddressSpace: 'kontenalocal',
          GlobalDefaultAddressSpace: 'kontenaglobal',
        },
      },
    ])('$path', async ({ path, body }) => {
      const reply = await call(socketPath, path);
      expect(reply.status).toBe(200);
      expect(reply.contentType).toBe('application/json');
      expect(reply.body).toEqual(body);
      expect(allocatorCalls()).toBe(0);
    });

    it('accepts a body on the handshake too', async () => {
      const reply = await call(socketPath, '/Plugin.Activate', { body: '{}\n' });
      expect(reply.status).toBe(200);
    });
  });

  describe('RequestPool', () => {
    it('maps what dockerd sends for a dynamic pool', async () => {
      pools.requestPool.mockResolvedValue({
        poolId: 'local-7a1c',
        pool: '10.80.0.0/24',
        data: { 'com.docker.network.gateway': '10.80.0.1/24' },
      });
      const reply = await call(socketPath, '/IpamDriver.RequestPool', {
        body: dockerJson({
          AddressSpace: 'kontenalocal',
          Pool: '',
          SubPool: '',
          Options: null,
          V6: false,
        }),
      });
      expect(reply.status).toBe(200);
      expect(reply.contentType).toBe('application/json');
      expect(reply.body).toEqual({
        PoolID: 'local-7a1c',
        Pool: '10.80.0.0/24',
        Data: { 'com.docker.network.gateway': '10.80.0.1/24' },
      });
      expect(pools.requestPool).toHaveBeenCalledWith({ addressSpace: 'local', v6: false });
    });

    it.each([
      { name: 'the local one', space: 'kontenalocal', typed: { addressSpace: 'local' } },
      { name: 'the global one', space: 'kontenaglobal', typed: { addressSpace: 'global' } },
      { name: "another driver's", space: 'GlobalDefault', typed: {} },
      { name: 'an empty one', space: '', typed: {} },
    ])('passes the address space on typed: $name', async ({ space, typed }) => {
      pools.requestPool.mockResolvedValue({ poolId: 'local-1', pool: '10.80.1.0/24', data: {} });
      const reply = await call(socketPath, '/IpamDriver.RequestPool', {
        body: dockerJson({ AddressSpace: space, Pool: '', Options: null, V6: false }),
      });
      expect(reply.status).toBe(200);
      expect(pools.requestPool).toHaveBeenCalledWith({ ...typed, v6: false });
    });

    it('passes a static shared pool through', async () => {
      pools.requestPool.mockResolvedValue({ poolId: 'kontena', pool: '10.81.0.0/16', data: {} });
      const reply = await call(socketPath, '/IpamDriver.RequestPool', {
        body: dockerJson({
          AddressSpace: 'kontenaglobal',
          Pool: '10.81.0.0/16',
          SubPool: '10.81.128.0/17',
          Options: { network: 'kontena', foo: 'bar' },
          V6: false,
          SomeFieldOfAFutureDocker: [1, 2],
        }),
      });
      expect(reply.status).toBe(200);
      expect(pools.requestPool).toHaveBeenCalledWith({
        addressSpace: 'global',
        subnet: Prefix.parse('10.81.0.0/16'),
        range: Prefix.parse('10.81.128.0/17'),
        network: 'kontena',
        v6: false,
      });
    });

    it('treats an empty body as {}', async () => {
      pools.requestPool.mockResolvedValue({ poolId: 'local-1', pool: '10.80.1.0/24', data: {} });
      const reply = await call(socketPath, '/IpamDriver.RequestPool');
      expect(reply.status).toBe(200);
      expect(pools.requestPool).toHaveBeenCalledWith({ v6: false });
    });
  });

  it('ReleasePool answers {}', async () => {
    pools.releasePool.mockResolvedValue(undefined);
    const reply = await call(socketPath, '/IpamDriver.ReleasePool', {
      body: dockerJson({ PoolID: 'kontena' }),
    });
    expect(reply).toMatchObject({ status: 200, contentType: 'application/json', body: {} });
    expect(pools.releasePool).toHaveBeenCalledWith('kontena');
  });

  it('accepts an option it does not know and names it in a warning', async () => {
    pools.requestPool.mockResolvedValue({ poolId: 'blue', pool: '10.80.0.0/24', data: {} });
    const logs = captureNestLogs('warn');
    try {
      const reply = await call(socketPath, '/IpamDriver.RequestPool', {
        body: dockerJson({
          Options: { network: 'blue', 'com.example.owner': 'ops\nx' },
          V6: false,
        }),
      });
      expect(reply.status).toBe(200);
    } finally {
      logs.restore();
    }
    expect(logs.lines.join('\n')).toContain(
      'RequestPool of pool blue: ignored option(s) "com.example.owner", which kontena-ipam does not know',
    );
  });

  describe('RequestAddress', () => {
    it('maps a container request (Options null, Address "")', async () => {
      addresses.requestAddress.mockResolvedValue({ address: '10.81.0.2/16', data: {} });
      const reply = await call(socketPath, '/IpamDriver.RequestAddress', {
        body: dockerJson({ PoolID: 'kontena', Address: '', Options: null }),
      });
      expect(reply).toMatchObject({
        status: 200,
        contentType: 'application/json',
        body: { Address: '10.81.0.2/16', Data: {} },
      });
      expect(addresses.requestAddress).toHaveBeenCalledWith({
        poolId: 'kontena',
        gateway: false,
        macsRequested: true,
      });
    });

    it('maps a container request with its MAC, lower-cased (RequiresMACAddress)', async () => {
      addresses.requestAddress.mockResolvedValue({ address: '10.81.0.9/16', data: {} });
      const options = { 'com.docker.network.endpoint.macaddress': '02:42:0A:51:00:09' };
      const reply = await call(socketPath, '/IpamDriver.RequestAddress', {
        body: dockerJson({ PoolID: 'kontena', Address: '10.81.0.9', Options: options }),
      });
      expect(reply.status).toBe(200);
      expect(addresses.requestAddress).toHaveBeenCalledWith({
        poolId: 'kontena',
        address: Addr.parse('10.81.0.9'),
        gateway: false,
        mac: '02:42:0a:51:00:09',
        macsRequested: true,
      });
    });

    it('maps a gateway request', async () => {
      addresses.requestAddress.mockResolvedValue({ address: '10.81.0.1/16', data: {} });
      const options = { RequestAddressType: 'com.docker.network.gateway' };
      const reply = await call(socketPath, '/IpamDriver.RequestAddress', {
        body: dockerJson({ PoolID: 'kontena', Address: '10.81.0.1', Options: options }),
      });
      expect(reply.status).toBe(200);
      expect(addresses.requestAddress).toHaveBeenCalledWith({
        poolId: 'kontena',
        address: Addr.parse('10.81.0.1'),
        gateway: true,
        macsRequested: true,
      });
    });
  });

  it('ReleaseAddress answers {}', async () => {
    addresses.releaseAddress.mockResolvedValue(undefined);
    const reply = await call(socketPath, '/IpamDriver.ReleaseAddress', {
      body: dockerJson({
        PoolID: 'local-0b5e1a6c-3f0e-4c1e-9d5a-1f2e3d4c5b6a',
        Address: '10.80.0.5',
      }),
    });
    expect(reply).toMatchObject({ status: 200, contentType: 'application/json', body: {} });
    expect(addresses.releaseAddress).toHaveBeenCalledWith({
      poolId: 'local-0b5e1a6c-3f0e-4c1e-9d5a-1f2e3d4c5b6a',
      address: Addr.parse('10.80.0.5'),
    });
  });

  describe('errors from the allocators', () => {
    it.each([
      {
        name: 'a domain error is a 400',
        error: new AddressInUse('10.81.0.10', 'kontena'),
        status: 400,
        message: 'address 10.81.0.10 is already allocated in pool kontena',
      },
      {
        name: 'unknown pool is a 400',
        error: new PoolNotFound('nope'),
        status: 400,
        message: 'pool nope does not exist',
      },
      {
        name: 'etcd unreachable is a 503',
        error: new StoreUnavailable('etcd is unreachable at http://127.0.0.1:1'),
        status: 503,
        message: 'etcd is unreachable at http://127.0.0.1:1',
      },
      {
        name: 'a bug is a 500',
        error: new TypeError('Cannot read properties of undefined'),
        status: 500,
        message: 'internal error: Cannot read properties of undefined',
      },
    ])('$name', async ({ error, status, message }) => {
      addresses.requestAddress.mockRejectedValue(error);
      const reply = await call(socketPath, '/IpamDriver.RequestAddress', {
        body: dockerJson({ PoolID: 'kontena', Address: '', Options: null }),
      });
      expect(reply.status).toBe(status);
      expect(reply.contentType).toBe('application/json');
      expect(reply.body).toEqual(err(message));
    });
  });

  describe('HTTP layer', () => {
    it("hands Docker's exact method paths to the controller, bypassing Express", async () => {
      pools.releasePool.mockResolvedValue(undefined);
      const express: { handle: () => void } = running.app.getHttpAdapter().getInstance();
      const viaExpress = vi.spyOn(express, 'handle');
      const exact = await call(socketPath, '/IpamDriver.ReleasePool', {
        body: dockerJson({ PoolID: 'kontena' }),
      });
      expect(exact.status).toBe(200);
      expect(viaExpress).not.toHaveBeenCalled();
      const unknown = await call(socketPath, '/IpamDriver.Nope');
      expect(unknown.status).toBe(404);
      expect(viaExpress).toHaveBeenCalledTimes(1);
      viaExpress.mockRestore();
    });

    it.each([
      { name: 'unknown method', method: 'POST', path: '/IpamDriver.Nope' },
      { name: 'GET on a method path', method: 'GET', path: '/IpamDriver.RequestPool' },
      { name: 'other case', method: 'POST', path: '/ipamdriver.getcapabilities' },
      { name: 'trailing slash', method: 'POST', path: '/Plugin.Activate/' },
      { name: 'root', method: 'GET', path: '/' },
    ])('404 JSON: $name', async ({ method, path }) => {
      const reply = await call(socketPath, path, { method });
      expect(reply.status).toBe(404);
      expect(reply.contentType).toBe('application/json');
      expect(reply.body).toEqual(err(`Cannot ${method} ${path}`));
    });

    it('413 for a 2 MiB body', async () => {
      const body = Buffer.alloc(2 * 1024 * 1024, 0x20);
      const reply = await call(socketPath, '/IpamDriver.RequestPool', { body });
      expect(reply.status).toBe(413);
      expect(reply.contentType).toBe('application/json');
      expect(reply.body).toEqual(err('request body too large: the limit is 1048576 bytes'));
      expect(allocatorCalls()).toBe(0);
    });

    it('413 for a 2 MiB body without Content-Length', async () => {
      const body = Buffer.alloc(2 * 1024 * 1024, 0x20);
      const reply = await call(socketPath, '/IpamDriver.RequestPool', { body, chunked: true });
      expect(reply.status).toBe(413);
      expect(reply.contentType).toBe('application/json');
    });

    it('accepts a body of exactly 1 MiB', async () => {
      pools.releasePool.mockResolvedValue(undefined);
      const json = dockerJson({ PoolID: 'kontena' });
      const body = json + ' '.repeat(1024 * 1024 - json.length);
      const reply = await call(socketPath, '/IpamDriver.ReleasePool', { body });
      expect(reply.status).toBe(200);
    });

    it('400 for malformed JSON, with the parser message', async () => {
      const reply = await call(socketPath, '/IpamDriver.RequestPool', { body: '{"Pool":' });
      expect(reply.status).toBe(400);
      expect(reply.contentType).toBe('application/json');
      const body = reply.body as { Err: string; Error: string };
      expect(body.Err).toMatch(/^invalid request body: .*JSON/);
      expect(body.Error).toBe(body.Err);
      expect(allocatorCalls()).toBe(0);
    });

    it.each([
      { name: 'array', body: '[]', got: 'an array' },
      { name: 'number', body: '42', got: 'a number' },
      { name: 'string', body: '"x"', got: 'a string' },
      { name: 'null', body: 'null', got: 'null' },
      { name: 'boolean', body: 'true', got: 'a boolean' },
    ])('400 for a JSON $name', async ({ body, got }) => {
      const reply = await call(socketPath, '/IpamDriver.RequestPool', { body: `${body}\n` });
      expect(reply.status).toBe(400);
      expect(reply.body).toEqual(err(`invalid request body: expected a JSON object, got ${got}`));
      expect(allocatorCalls()).toBe(0);
    });

    it('parses JSON whatever the Content-Type says', async () => {
      const reply = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            socketPath,
            method: 'POST',
            path: '/IpamDriver.ReleasePool',
            headers: { 'Content-Type': 'text/plain' },
            agent: false,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(dockerJson({ PoolID: '' }));
      });
      // Parsed (else it would be "PoolID is required" for {} too, so check the validator ran).
      expect(reply).toBe(400);
    });
  });
});

describe('validation (400 before any allocator call)', () => {
  let running: Running;

  beforeAll(async () => {
    running = await startPlugin();
  });

  afterAll(async () => {
    await running.app.close();
  });

  beforeEach(() => {
    vi.resetAllMocks();
  });

  const NAME_RULE =
    'expected 1-128 letters, digits, "_", "." or "-", starting with a letter or digit';
  const PATTERN = `${NAME_RULE}, with ":v6" after it for an IPv6 pool`;

  it.each([
    // RequestPool
    { path: 'RequestPool', body: { V6: 'yes' }, message: 'V6 must be a boolean, got "yes"' },
    { path: 'RequestPool', body: { V6: 1 }, message: 'V6 must be a boolean, got 1' },
    {
      path: 'RequestPool',
      body: { AddressSpace: 5 },
      message: 'AddressSpace must be a string, got 5',
    },
    {
      path: 'RequestPool',
      body: { Options: [] },
      message: 'Options must be an object of strings or null, got an array',
    },
    {
      path: 'RequestPool',
      body: { Options: 'network=x' },
      message: 'Options must be an object of strings or null, got "network=x"',
    },
    {
      path: 'RequestPool',
      body: { Options: { mtu: 1500 } },
      message: 'Options["mtu"] must be a string, got 1500',
    },
    {
      path: 'RequestPool',
      body: { Options: { network: null } },
      message: 'Options["network"] must be a string, got null',
    },
    {
      path: 'RequestPool',
      body: { Options: { network: 'a b' } },
      message: `Options.network "a b" is not a valid network name: ${NAME_RULE}`,
    },
    {
      path: 'RequestPool',
      body: { Options: { network: '' } },
      message: `Options.network "" is not a valid network name: ${NAME_RULE}`,
    },
    {
      path: 'RequestPool',
      body: { Options: { network: '-x' } },
      message: `Options.network "-x" is not a valid network name: ${NAME_RULE}`,
    },
    {
      path: 'RequestPool',
      body: { Options: { netwrok: 'blue' } },
      message:
        'Options key "netwrok" is not an option of kontena-ipam: did you mean "network"? (options: network, subnet-length, subnet6-length, exclude)',
    },
    {
      path: 'RequestPool',
      body: { Options: { network: 'blue', subnet_length: '26' } },
      message:
        'Options key "subnet_length" is not an option of kontena-ipam: did you mean "subnet-length"? (options: network, subnet-length, subnet6-length, exclude)',
    },
    {
      path: 'RequestPool',
      body: { Options: { 'subnet6-length': '/64' } },
      message:
        'Options.subnet6-length "/64" is not a prefix length: expected a number of bits such as 64',
    },
    {
      path: 'RequestPool',
      body: { Options: { 'subnet-length': '26', 'subnet6-length': '64x' } },
      message:
        'Options.subnet6-length "64x" is not a prefix length: expected a number of bits such as 64',
    },
    {
      path: 'RequestPool',
      body: { Options: { network: 'x'.repeat(129) } },
      message: /^Options\.network "x{80}…" is not a valid network name/,
    },
    {
      path: 'RequestPool',
      body: { Pool: '10.0.0.0' },
      message: 'Pool: invalid CIDR prefix "10.0.0.0": missing "/" and prefix length',
    },
    {
      path: 'RequestPool',
      body: { Pool: '10.0.0.0/33' },
      message: 'Pool: invalid CIDR prefix "10.0.0.0/33": prefix length must be 0-32 for IPv4',
    },
    {
      path: 'RequestPool',
      body: { Pool: 'kontena' },
      message: /^Pool: invalid CIDR prefix "kontena"/,
    },
    {
      path: 'RequestPool',
      body: { Pool: 10 },
      message: 'Pool must be a CIDR prefix string, got 10',
    },
    {
      path: 'RequestPool',
      body: { Pool: '10.0.0.0/16', SubPool: '10.0.1.0/24x' },
      message: /^SubPool: invalid CIDR prefix "10\.0\.1\.0\/24x"/,
    },
    {
      path: 'RequestPool',
      body: { Pool: `${'1'.repeat(200)}/8` },
      message: /^Pool "1{80}…" is not a valid CIDR prefix$/,
    },
    // ReleasePool
    { path: 'ReleasePool', body: {}, message: 'PoolID is required' },
    { path: 'ReleasePool', body: { PoolID: '' }, message: 'PoolID is required' },
    { path: 'ReleasePool', body: { PoolID: 7 }, message: 'PoolID must be a string, got 7' },
    {
      path: 'ReleasePool',
      body: { PoolID: '../etc' },
      message: `PoolID "../etc" is not a valid pool id: ${PATTERN}`,
    },
    {
      path: 'ReleasePool',
      body: { PoolID: 'a/b' },
      message: `PoolID "a/b" is not a valid pool id: ${PATTERN}`,
    },
    // RequestAddress
    { path: 'RequestAddress', body: { Address: '10.0.0.1' }, message: 'PoolID is required' },
    {
      path: 'RequestAddress',
      body: { PoolID: 'p', Address: '10.0.0.1/24' },
      message: 'Address "10.0.0.1/24" must be an IP address without a prefix length',
    },
    {
      path: 'RequestAddress',
      body: { PoolID: 'p', Address: '10.0.0.256' },
      message: 'Address "10.0.0.256" is not a valid IP address',
    },
    {
      path: 'RequestAddress',
      body: { PoolID: 'p', Address: 167772161 },
      message: 'Address must be an IP address string, got 167772161',
    },
    {
      path: 'RequestAddress',
      body: { PoolID: 'p', Options: { RequestAddressType: true } },
      message: 'Options["RequestAddressType"] must be a string, got true',
    },
    {
      path: 'RequestAddress',
      body: { PoolID: 'p', Options: { 'com.docker.network.endpoint.macaddress': '02:42:0a' } },
      message:
        'Options["com.docker.network.endpoint.macaddress"] "02:42:0a" is not a MAC address (expected six hex octets such as 02:42:ac:11:00:02)',
    },
    // ReleaseAddress
    { path: 'ReleaseAddress', body: { PoolID: 'p' }, message: 'Address is required' },
    { path: 'ReleaseAddress', body: { PoolID: 'p', Address: '' }, message: 'Address is required' },
    {
      path: 'ReleaseAddress',
      body: { PoolID: 'p', Address: 'fe80::1%eth0' },
      message: 'Address "fe80::1%eth0" is not a valid IP address',
    },
    {
      path: 'ReleaseAddress',
      body: { PoolID: ' p', Address: '10.0.0.1' },
      message: `PoolID " p" is not a valid pool id: ${PATTERN}`,
    },
  ])('$path $body', async ({ path, body, message }) => {
    const reply = await call(running.socketPath, `/IpamDriver.${path}`, { body: dockerJson(body) });
    expect(reply.status).toBe(400);
    expect(reply.contentType).toBe('application/json');
    const { Err, Error: error } = reply.body as { Err: string; Error: string };
    expect(Err).toMatch(message);
    expect(error).toBe(Err);
    expect(allocatorCalls()).toBe(0);
  });
});

describe('shutdown', () => {
  beforeEach(() => {
    vi.resetAllMocks();
    destroyed.length = 0;
  });

  it('lets a call in flight finish before the store closes, then removes the socket', async () => {
    const { app, socketPath } = await startPlugin();
    let finish: (() => void) | undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    pools.releasePool.mockImplementation(async () => {
      await finished;
      destroyed.push('call');
    });
    const inFlight = call(socketPath, '/IpamDriver.ReleasePool', {
      body: dockerJson({ PoolID: 'kontena' }),
    });
    await vi.waitFor(() => expect(pools.releasePool).toHaveBeenCalled());
    const closing = app.close();
    setTimeout(() => finish?.(), 100);
    const reply = await inFlight;
    await closing;
    expect(reply.status).toBe(200);
    expect(destroyed).toEqual(['call', 'store']);
    expect(existsSync(socketPath)).toBe(false);
  });

  it('closes idle keep-alive connections (dockerd keeps them open)', async () => {
    const { app, socketPath } = await startPlugin();
    const agent = new Agent({ keepAlive: true });
    const reply = await call(socketPath, '/Plugin.Activate', { agent });
    expect(reply.status).toBe(200);
    const started = Date.now();
    await app.close();
    expect(Date.now() - started).toBeLessThan(2000);
    agent.destroy();
  });

  it('cuts calls still in flight after the drain timeout', async () => {
    const { app, socketPath, server } = await startPlugin();
    pools.releasePool.mockReturnValue(new Promise(() => undefined));
    // Settled into a value right away, so the expected rejection is never "unhandled".
    const outcome = call(socketPath, '/IpamDriver.ReleasePool', {
      body: dockerJson({ PoolID: 'kontena' }),
    }).then(
      (reply) => `answered ${reply.status}`,
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    await vi.waitFor(() => expect(pools.releasePool).toHaveBeenCalled());
    await server.close(50);
    expect(await outcome).toMatch(/socket hang up|ECONNRESET/);
    await app.close();
    expect(existsSync(socketPath)).toBe(false);
  });
});
