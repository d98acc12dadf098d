import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RawEtcd } from '../int/harness.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { uniquePrefix } from '../support/prefix.js';
import {
  eventually,
  httpGet,
  pluginCall,
  startPlugin,
  type PluginProcess,
} from './plugin-process.js';

const endpoints = inject('etcdEndpoints');
const JSON_TYPE = 'application/json';

describe('the built plugin over its unix socket', () => {
  let plugin: PluginProcess;
  let raw: RawEtcd;
  let prefix: string;

  beforeAll(async () => {
    prefix = uniquePrefix('wire');
    raw = new RawEtcd(endpoints, prefix);
    plugin = await startPlugin({
      env: { NODE_ID: 'e2e-node', ETCD_ENDPOINT: endpoints.join(','), ETCD_PREFIX: prefix },
    });
  });

  afterAll(async () => {
    await plugin.stop();
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
  });

  const call = (method: string, body?: unknown, opts?: Parameters<typeof pluginCall>[3]) =>
    pluginCall(plugin.socketPath, method, body, opts);

  it('should answer the handshake with empty bodies', async () => {
    const activate = await call('Plugin.Activate');
    expect(activate).toMatchObject({ status: 200, contentType: JSON_TYPE });
    expect(activate.body).toEqual({ Implements: ['IpamDriver'] });
    const caps = await call('IpamDriver.GetCapabilities');
    expect(caps.status).toBe(200);
    expect(caps.body).toEqual({ RequiresMACAddress: true, RequiresRequestReplay: false });
    const spaces = await call('IpamDriver.GetDefaultAddressSpaces');
    expect(spaces.body).toEqual({
      LocalDefaultAddressSpace: 'kontenalocal',
      GlobalDefaultAddressSpace: 'kontenaglobal',
    });
  });

  it('should serve a static pool, its addresses and their release with dockerd request shapes', async () => {
    const pool = await call('IpamDriver.RequestPool', {
      AddressSpace: 'kontenaglobal',
      Pool: '10.81.0.0/16',
      SubPool: '10.81.128.0/17',
      Options: { network: 'wire-static' },
      V6: false,
    });
    expect(pool).toMatchObject({ status: 200, contentType: JSON_TYPE });
    expect(pool.body).toEqual({
      PoolID: 'wire-static',
      Pool: '10.81.0.0/16',
      Data: { 'com.docker.network.gateway': '10.81.0.1/16' },
    });
    const dynamic = await call('IpamDriver.RequestAddress', {
      PoolID: 'wire-static',
      Address: '',
      Options: null,
    });
    expect(dynamic.status).toBe(200);
    const address = String(dynamic.body?.Address);
    expect(address).toMatch(/^10\.81\.(1(2[89]|[3-9]\d)|2\d\d)\.\d+\/16$/);
    const again = await call('IpamDriver.RequestAddress', {
      PoolID: 'wire-static',
      Address: address.split('/')[0],
      Options: null,
    });
    expect(again.status).toBe(400);
    expect(again.body).toEqual({
      Err: `address ${address.split('/')[0]} is already allocated in pool wire-static, held by node e2e-node for a container (or an --aux-address)`,
      Error: `address ${address.split('/')[0]} is already allocated in pool wire-static, held by node e2e-node for a container (or an --aux-address)`,
    });
    const released = await call('IpamDriver.ReleaseAddress', {
      PoolID: 'wire-static',
      Address: address.split('/')[0],
    });
    expect(released).toMatchObject({ status: 200, body: {} });
    expect((await call('IpamDriver.ReleasePool', { PoolID: 'wire-static' })).status).toBe(200);
    expect(await raw.state()).toEqual({});
  });

  it('should serve a dynamic pool without a network option', async () => {
    const pool = await call('IpamDriver.RequestPool', {
      AddressSpace: 'kontenalocal',
      Pool: '',
      SubPool: '',
      Options: null,
      V6: false,
    });
    expect(pool.status).toBe(200);
    expect(pool.body?.Pool).toMatch(/^10\.(8\d|9[0-5])\.\d+\.0\/24$/);
    const id = String(pool.body?.PoolID);
    expect((await call('IpamDriver.ReleasePool', { PoolID: id })).status).toBe(200);
    expect(await raw.state()).toEqual({});
  });

  const badInput: {
    name: string;
    method: string;
    body?: unknown;
    raw?: string;
    status: number;
    err: RegExp;
  }[] = [
    {
      name: 'malformed JSON',
      method: 'IpamDriver.RequestPool',
      raw: '{"Pool":',
      status: 400,
      err: /invalid request body/i,
    },
    {
      name: 'JSON array',
      method: 'IpamDriver.RequestPool',
      raw: '[]',
      status: 400,
      err: /object/i,
    },
    {
      name: 'V6 as a string',
      method: 'IpamDriver.RequestPool',
      body: { Pool: '', V6: 'yes' },
      status: 400,
      err: /V6/,
    },
    {
      name: 'Options as an array',
      method: 'IpamDriver.RequestPool',
      body: { Options: [] },
      status: 400,
      err: /Options/,
    },
    {
      name: 'Pool not a CIDR',
      method: 'IpamDriver.RequestPool',
      body: { Pool: '10.1.0.0/33', Options: null },
      status: 400,
      err: /10\.1\.0\.0\/33/,
    },
    {
      name: 'SubPool without Pool',
      method: 'IpamDriver.RequestPool',
      body: { SubPool: '10.1.0.0/24', Options: null },
      status: 400,
      err: /SubPool 10\.1\.0\.0\/24 requires Pool/,
    },
    {
      name: 'SubPool outside Pool',
      method: 'IpamDriver.RequestPool',
      body: { Pool: '10.1.0.0/24', SubPool: '10.2.0.0/24' },
      status: 400,
      err: /not inside Pool/,
    },
    {
      name: 'IPv6 Pool with V6 false',
      method: 'IpamDriver.RequestPool',
      body: { Pool: 'fd00:1::/64', V6: false, Options: null },
      status: 400,
      err: /Pool fd00:1::\/64 is IPv6, but V6 is false/,
    },
    {
      name: 'invalid network name',
      method: 'IpamDriver.RequestPool',
      body: { Options: { network: '../x' } },
      status: 400,
      err: /network/,
    },
    {
      name: 'unknown pool',
      method: 'IpamDriver.RequestAddress',
      body: { PoolID: 'nope', Address: '', Options: null },
      status: 400,
      err: /pool nope does not exist/,
    },
    {
      name: 'PoolID missing',
      method: 'IpamDriver.RequestAddress',
      body: { Address: '' },
      status: 400,
      err: /PoolID/,
    },
    {
      name: 'Address not an IP',
      method: 'IpamDriver.RequestAddress',
      body: { PoolID: 'x', Address: '10.1' },
      status: 400,
      err: /10\.1/,
    },
    {
      name: 'release without Address',
      method: 'IpamDriver.ReleaseAddress',
      body: { PoolID: 'x' },
      status: 400,
      err: /Address/,
    },
  ];

  it.each(badInput)(
    'should reject $name with a clear Err and leave etcd unchanged',
    async (row) => {
      const before = await raw.dump();
      const reply = await call(row.method, row.body, row.raw !== undefined ? { raw: row.raw } : {});
      expect(reply.status).toBe(row.status);
      expect(reply.contentType).toBe(JSON_TYPE);
      expect(String(reply.body?.Err)).toMatch(row.err);
      expect(reply.body?.Error).toBe(reply.body?.Err);
      expect(await raw.dump()).toEqual(before);
    },
  );

  it('should reject a body over 1 MiB with 413 and keep serving', async () => {
    const reply = await call('IpamDriver.RequestPool', undefined, {
      raw: JSON.stringify({ Options: { network: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(reply.status).toBe(413);
    expect(reply.contentType).toBe(JSON_TYPE);
    expect((await call('Plugin.Activate')).status).toBe(200);
  });

  it('should answer 404 to unknown methods and to GET on method paths', async () => {
    expect((await call('IpamDriver.Nope', {})).status).toBe(404);
    const get = await call('IpamDriver.RequestPool', undefined, { httpMethod: 'GET' });
    expect(get.status).toBe(404);
    expect(get.contentType).toBe(JSON_TYPE);
  });

  it('should keep the socket private and report ready', async () => {
    expect(statSync(plugin.socketPath).mode & 0o777 & ~0o660).toBe(0);
    expect(await httpGet(`${plugin.healthUrl}/healthz`)).toMatchObject({ status: 200 });
    expect(await httpGet(`${plugin.healthUrl}/readyz`)).toMatchObject({ status: 200 });
    // The health listener serves nothing else.
    const res = await fetch(`${plugin.healthUrl}/IpamDriver.RequestPool`, {
      method: 'POST',
      body: '{}',
    });
    expect(res.status).toBe(404);
  });
});

/** GET /readyz once it matches `until` (by default: the app has loaded, its checks name etcd). */
async function readinessOnceLoaded(
  plugin: PluginProcess,
  until = /"etcd"/,
): Promise<{ status: number; body: unknown }> {
  let ready = { status: 0, body: undefined as unknown };
  await eventually(`/readyz to match ${until}`, async () => {
    ready = await httpGet(`${plugin.healthUrl}/readyz`);
    return until.test(JSON.stringify(ready.body));
  });
  return ready;
}

describe('plugin lifecycle', () => {
  it('should serve /healthz and /readyz from the moment the socket appears, "starting" until the app is up', async () => {
    const plugin = await startPlugin({
      env: { NODE_ID: 'health', ETCD_ENDPOINT: endpoints.join(',') },
    });
    try {
      /** Every distinct /readyz answer in order, and every failed poll of either endpoint. */
      const readiness: string[] = [];
      const failures: string[] = [];
      const poll = async (path: string): Promise<{ status: number; body: unknown } | undefined> =>
        httpGet(`${plugin.healthUrl}${path}`).catch((e: unknown) => {
          const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : '';
          failures.push(`${path}: ${String(e)} ${cause}`);
          return undefined;
        });
      const deadline = Date.now() + 30_000;
      while (readiness.at(-1)?.startsWith('200') !== true && Date.now() < deadline) {
        const [healthz, readyz] = await Promise.all([poll('/healthz'), poll('/readyz')]);
        if (healthz !== undefined && healthz.status !== 200) {
          failures.push(`/healthz: ${healthz.status}`);
        }
        const answer = `${readyz?.status} ${JSON.stringify(readyz?.body)}`;
        if (readiness.at(-1) !== answer) {
          readiness.push(answer);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(failures).toEqual([]);
      expect(readiness).toEqual([
        '503 {"status":"not ready","checks":{"app":"starting"}}',
        // etcd is up: the app may report it connected at once or after a first 503.
        ...readiness.slice(1, -1),
        '200 {"status":"ready","checks":{"etcd":"ok","socket":"ok","node-id":"ok"}}',
      ]);
      for (const between of readiness.slice(1, -1)) {
        expect(between).toMatch(/^503 \{"status":"not ready","checks":\{"etcd":/);
      }
    } finally {
      await plugin.stop();
    }
  });

  it('should answer the handshake while etcd is down, then serve once etcd comes up', async () => {
    const cluster: EtcdCluster = await startEtcd({ name: 'late' });
    await cluster.killMember(0);
    const plugin = await startPlugin({
      env: { NODE_ID: 'late', ETCD_ENDPOINT: cluster.endpoints.join(','), ETCD_WAIT_TIMEOUT: '30' },
    });
    try {
      // Up before the app (Nest, etcd3) has loaded: Docker can connect at once.
      expect((await pluginCall(plugin.socketPath, 'Plugin.Activate')).status).toBe(200);
      expect(
        (await pluginCall(plugin.socketPath, 'IpamDriver.GetDefaultAddressSpaces')).status,
      ).toBe(200);
      expect((await httpGet(`${plugin.healthUrl}/readyz`)).body).toEqual({
        status: 'not ready',
        checks: { app: 'starting' },
      });
      // Once the app is up, /readyz names etcd's problem (before that it says "starting").
      const ready = await readinessOnceLoaded(plugin, /etcd is unreachable/);
      expect(ready.status).toBe(503);
      const pending = pluginCall(plugin.socketPath, 'IpamDriver.RequestPool', {
        Options: { network: 'late' },
        V6: false,
      });
      await new Promise((r) => setTimeout(r, 1_500));
      await cluster.restartMember(0);
      const reply = await pending;
      expect(reply.status).toBe(200);
      expect(reply.body?.PoolID).toBe('late');
      await eventually(
        '/readyz to turn 200',
        async () => (await httpGet(`${plugin.healthUrl}/readyz`)).status === 200,
      );
    } finally {
      await plugin.stop();
      await cluster.stop();
    }
  });

  it('should fail etcd-dependent calls with 503 after ETCD_WAIT_TIMEOUT', async () => {
    const plugin = await startPlugin({
      env: { NODE_ID: 'down', ETCD_ENDPOINT: 'http://127.0.0.1:9', ETCD_WAIT_TIMEOUT: '2' },
    });
    try {
      const reply = await pluginCall(plugin.socketPath, 'IpamDriver.RequestPool', {
        Options: null,
      });
      expect(reply.status).toBe(503);
      expect(String(reply.body?.Err)).toMatch(/^etcd is unreachable at http:\/\/127\.0\.0\.1:9/);
    } finally {
      await plugin.stop();
    }
  });

  it('should exit 0 on SIGTERM and remove its socket, even before the app has loaded', async () => {
    const plugin = await startPlugin({
      env: { NODE_ID: 'term', ETCD_ENDPOINT: endpoints.join(',') },
    });
    const code = await plugin.stop('SIGTERM');
    expect(code).toBe(0);
    expect(existsSync(plugin.socketPath)).toBe(false);
  });

  it('should finish a call in flight on SIGTERM, then exit 0', async () => {
    const plugin = await startPlugin({
      env: { NODE_ID: 'drain', ETCD_ENDPOINT: 'http://127.0.0.1:9', ETCD_WAIT_TIMEOUT: '3' },
    });
    // Wait for the app itself, not only the socket that answers while it loads.
    await readinessOnceLoaded(plugin);
    const inFlight = pluginCall(plugin.socketPath, 'IpamDriver.RequestPool', { Options: null });
    await new Promise((r) => setTimeout(r, 500));
    const stopped = plugin.stop('SIGTERM');
    // The call is answered (503 once its etcd wait ends), not cut.
    const reply = await inFlight;
    expect(reply.status).toBe(503);
    expect(await stopped).toBe(0);
    expect(existsSync(plugin.socketPath)).toBe(false);
  });

  it('should answer calls that wait for the app with 503 when stopped before it loaded', async () => {
    const plugin = await startPlugin({
      env: { NODE_ID: 'early', ETCD_ENDPOINT: endpoints.join(',') },
    });
    // Right after the socket appears the app is still loading: the handshake is answered at once,
    // RequestPool waits for the app.
    expect((await pluginCall(plugin.socketPath, 'Plugin.Activate')).body).toEqual({
      Implements: ['IpamDriver'],
    });
    let sent!: () => void;
    const written = new Promise<void>((resolveSent) => (sent = resolveSent));
    const waiting = pluginCall(
      plugin.socketPath,
      'IpamDriver.RequestPool',
      { Options: null },
      { onSent: sent },
    );
    // Stop only once the call is on the wire, so it is a waiting call, not a late one.
    await written;
    const stopped = plugin.stop('SIGTERM');
    const reply = await waiting;
    // Never a dropped connection.
    expect(reply.status).toBe(503);
    expect(reply.contentType).toBe('application/json');
    expect(await stopped).toBe(0);
    expect(existsSync(plugin.socketPath)).toBe(false);
  });

  it.each([
    {
      name: 'an uncaught exception',
      kind: 'uncaught exception',
      fault: 'throw new Error("test crash")',
    },
    {
      name: 'an unhandled rejection',
      kind: 'unhandled rejection',
      fault: 'void Promise.reject(new Error("test crash"))',
    },
  ])('should log $name, remove its socket and exit non-zero', async ({ kind, fault }) => {
    // A test-only preload makes the plugin fail on SIGUSR2, from outside its own code.
    const preload = `process.on("SIGUSR2", () => { ${fault}; });`;
    const plugin = await startPlugin({
      env: { NODE_ID: 'crash', ETCD_ENDPOINT: endpoints.join(',') },
      nodeArgs: [`--import=data:text/javascript,${encodeURIComponent(preload)}`],
    });
    try {
      await readinessOnceLoaded(plugin);
      plugin.child.kill('SIGUSR2');
      const code = await plugin.exited;
      expect(code).toBe(1);
      expect(existsSync(plugin.socketPath)).toBe(false);
      // One log line: the stack's line breaks are escaped as \n.
      expect(plugin.output()).toMatch(
        new RegExp(`ERROR \\[Main\\] ${kind}, exiting: Error: test crash\\\\n\\s+at `),
      );
    } finally {
      await plugin.stop();
    }
  });

  it('should refuse to start when another process answers on its socket', async () => {
    const first = await startPlugin({
      env: { NODE_ID: 'one', ETCD_ENDPOINT: endpoints.join(',') },
    });
    try {
      const second = await startPlugin({
        driverName: first.driverName,
        waitForSocket: false,
        env: {
          NODE_ID: 'two',
          ETCD_ENDPOINT: endpoints.join(','),
          KONTENA_IPAM_SOCKET: first.socketPath,
        },
      });
      const code = await second.exited;
      await second.stop();
      expect(code).not.toBe(0);
      expect(second.output()).toMatch(/already/i);
      expect((await pluginCall(first.socketPath, 'Plugin.Activate')).status).toBe(200);
    } finally {
      await first.stop();
    }
  });

  it('should replace a stale socket file nobody answers on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kipam-stale-'));
    const path = join(dir, 'stale.sock');
    // A process that listened on the path and was killed leaves the socket file behind.
    const squatter = spawn(process.execPath, [
      '-e',
      'require("net").createServer().listen(process.argv[1])',
      path,
    ]);
    await eventually('the squatter socket', () => existsSync(path));
    squatter.kill('SIGKILL');
    await new Promise((r) => squatter.once('exit', r));
    expect(existsSync(path)).toBe(true);
    const plugin = await startPlugin({
      waitForSocket: false,
      env: { NODE_ID: 'stale', ETCD_ENDPOINT: endpoints.join(','), KONTENA_IPAM_SOCKET: path },
    });
    try {
      await eventually('the plugin to answer on the old socket path', async () => {
        try {
          return (await pluginCall(path, 'Plugin.Activate')).status === 200;
        } catch {
          return false;
        }
      });
    } finally {
      await plugin.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should stop with exit code 1 and a clear message on a bad configuration', async () => {
    const plugin = await startPlugin({
      waitForSocket: false,
      env: { KONTENA_IPAM_SUBNET_LENGTH: '33', ETCD_PASSWORD: 'sekrit-pw', ETCD_USERNAME: 'u' },
    });
    const code = await plugin.exited;
    await plugin.stop();
    expect(code).toBe(1);
    expect(plugin.output()).toMatch(
      /KONTENA_IPAM_SUBNET_LENGTH=33: must be an integer from 12 to 30/,
    );
    expect(plugin.output()).not.toMatch(/sekrit-pw/);
  });

  it('should carve dynamic pools from a KONTENA_IPAM_SUPERNET list in order, over its socket', async () => {
    const listPrefix = uniquePrefix('wire-supernets');
    const plugin = await startPlugin({
      env: {
        NODE_ID: 'lists',
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_PREFIX: listPrefix,
        KONTENA_IPAM_SUPERNET: '10.201.0.0/24, 10.202.0.0/24:26',
      },
    });
    const pools: unknown[] = [];
    try {
      for (const network of ['first', 'second', 'third']) {
        const reply = await pluginCall(plugin.socketPath, 'IpamDriver.RequestPool', {
          AddressSpace: 'kontenaglobal',
          Pool: '',
          SubPool: '',
          Options: { network },
          V6: false,
        });
        pools.push(reply.body?.Pool);
      }
      expect(pools).toEqual(['10.201.0.0/24', '10.202.0.0/26', '10.202.0.64/26']);
      expect(plugin.output()).toMatch(/10\.201\.0\.0\/24.*10\.202\.0\.0\/24/); // start-up log
    } finally {
      await plugin.stop();
      const raw = new RawEtcd(endpoints, listPrefix);
      await raw.client.delete().prefix(`${listPrefix}/`);
      raw.close();
    }
  });

  it('should stop with exit code 1 naming the entry of a bad KONTENA_IPAM_SUPERNET list', async () => {
    const plugin = await startPlugin({
      waitForSocket: false,
      env: { KONTENA_IPAM_SUPERNET: '10.80.0.0/12:24,10.90.0.0/16' },
    });
    const code = await plugin.exited;
    await plugin.stop();
    expect(code).toBe(1);
    expect(plugin.output()).toContain(
      'KONTENA_IPAM_SUPERNET=10.80.0.0/12:24,10.90.0.0/16: item 2 (10.90.0.0/16) overlaps item 1 (10.80.0.0/12): the supernets of a list must not overlap',
    );
  });
});
