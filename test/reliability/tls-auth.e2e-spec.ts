// Issue 5, item 4: the built plugin against an etcd that serves clients over TLS only, requires
// a client certificate and has authentication enabled. The right files and password work; a
// wrong CA or a wrong password is a clear sentence at /readyz, in the log and in the 503 of a
// call; neither the password nor the private key ever shows in a log line or a reply.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Etcd3, Range, type IOptions } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, httpGet, startPlugin, type PluginProcess } from '../e2e/plugin-process.js';
import { startTlsEtcd, type TlsEtcd } from '../support/etcd-tls.js';
import { uniquePrefix } from '../support/prefix.js';
import { timedCall, type NodePlugin } from './calls.js';

const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const ROOT_PASSWORD = `root-${randomBytes(12).toString('hex')}`;
const WAIT_S = 3;

const node = (plugin: PluginProcess): NodePlugin => ({ node: 'tls-node', plugin });

describe('TLS and authentication towards etcd', () => {
  let etcd: TlsEtcd;
  let prefix: string;
  let root: Etcd3;
  /** Every plugin log and every reply body seen: none may carry a secret. */
  const seen: string[] = [];
  const running = new Set<PluginProcess>();

  const tlsOptions = (): IOptions => ({
    hosts: etcd.endpoint,
    credentials: {
      rootCertificate: readFileSync(etcd.files.caCert),
      privateKey: readFileSync(etcd.files.clientKey),
      certChain: readFileSync(etcd.files.clientCert),
    },
  });

  beforeAll(async () => {
    etcd = await startTlsEtcd();
    prefix = uniquePrefix('tls');
    // What `etcdctl user add / role add / role grant-permission / auth enable` would do.
    const admin = new Etcd3(tlsOptions());
    try {
      await admin.role('root').create();
      await admin.user('root').create(ROOT_PASSWORD);
      await admin.user('root').addRole('root');
      await admin.role('ipam').create();
      await admin
        .role('ipam')
        .grant({ permission: 'Readwrite', range: Range.prefix(`${prefix}/`) });
      await admin.user('ipam').create(PASSWORD);
      await admin.user('ipam').addRole('ipam');
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
    root = new Etcd3({ ...tlsOptions(), auth: { username: 'root', password: ROOT_PASSWORD } });
  });

  afterAll(async () => {
    await Promise.all([...running].map((p) => p.stop()));
    root?.close();
    await etcd?.stop();
  });

  /** Starts the plugin with the right TLS files and password, changed by `env` ('' = unset). */
  const start = async (env: Record<string, string>): Promise<PluginProcess> => {
    const plugin = await startPlugin({
      env: withoutEmpty({
        NODE_ID: 'tls-node',
        ETCD_ENDPOINT: etcd.endpoint,
        ETCD_PREFIX: prefix,
        ETCD_WAIT_TIMEOUT: String(WAIT_S),
        ETCD_CA_FILE: etcd.files.caCert,
        ETCD_CERT_FILE: etcd.files.clientCert,
        ETCD_KEY_FILE: etcd.files.clientKey,
        ETCD_USERNAME: 'ipam',
        ETCD_PASSWORD: PASSWORD,
        ...env,
      }),
    });
    running.add(plugin);
    return plugin;
  };
  const stop = async (plugin: PluginProcess): Promise<void> => {
    await plugin.stop();
    running.delete(plugin);
    seen.push(plugin.output());
  };
  /** /readyz; status 0 until the health listener is up (it opens after the socket). */
  const readyz = async (plugin: PluginProcess): Promise<{ status: number; text: string }> => {
    const r = await httpGet(`${plugin.healthUrl}/readyz`).catch(() => ({ status: 0, body: '' }));
    const text = JSON.stringify(r.body);
    seen.push(text);
    return { status: r.status, text };
  };

  it('should serve with the CA, the client certificate and the password', async () => {
    const plugin = await start({});
    await eventually('/readyz 200', async () => (await readyz(plugin)).status === 200, 15_000);
    const pool = await timedCall(node(plugin), 'IpamDriver.RequestPool', {
      Options: { network: 'tls' },
    });
    const address = await timedCall(node(plugin), 'IpamDriver.RequestAddress', {
      PoolID: 'tls',
      Options: null,
    });
    seen.push(JSON.stringify([pool, address]));
    expect([pool.status, pool.err]).toEqual([200, undefined]);
    expect([address.status, address.err]).toEqual([200, undefined]);
    const ip = address.address?.split('/')[0] ?? '';
    expect(
      JSON.parse((await root.get(`${prefix}/addresses/tls/${ip}`).string()) ?? '{}'),
    ).toMatchObject({ node: 'tls-node' });
    await stop(plugin);
    // The effective configuration is logged, without the password.
    expect(plugin.output()).toContain(`"auth":{"username":"ipam","password":"***"}`);
  });

  it('should name a wrong CA at /readyz, in the log and in a 503', async () => {
    const plugin = await start({ ETCD_CA_FILE: etcd.files.otherCaCert });
    const problem = new RegExp(
      `etcd is unreachable at https://127\\.0\\.0\\.1:\\d+: .*(certificate|self.signed)`,
      'i',
    );
    await eventually('/readyz to name the certificate problem', async () =>
      problem.test((await readyz(plugin)).text),
    );
    expect((await readyz(plugin)).status).toBe(503);
    const call = await timedCall(node(plugin), 'IpamDriver.RequestPool', {
      Options: { network: 'tls' },
    });
    seen.push(JSON.stringify(call));
    console.log(`wrong CA: ${call.status} ${call.err}`);
    expect(call.status).toBe(503);
    expect(call.err).toMatch(problem);
    expect(call.err).toMatch(new RegExp(`gave up after waiting ${WAIT_S} s`));
    await stop(plugin);
    expect(plugin.output()).toMatch(problem);
  });

  it('should name a rejected password at /readyz, in the log and in an immediate 503', async () => {
    const wrong = `${PASSWORD}-wrong`;
    const plugin = await start({ ETCD_PASSWORD: wrong });
    const problem = /etcd at https:\/\/127\.0\.0\.1:\d+ rejected the credentials of user ipam/;
    await eventually('/readyz to name the credentials', async () =>
      problem.test((await readyz(plugin)).text),
    );
    expect((await readyz(plugin)).status).toBe(503);
    const call = await timedCall(node(plugin), 'IpamDriver.RequestPool', {
      Options: { network: 'tls' },
    });
    seen.push(JSON.stringify(call));
    console.log(
      `wrong password: ${call.status} ${call.err} after ${call.endedAt - call.startedAt} ms`,
    );
    expect(call.status).toBe(503);
    expect(call.err).toMatch(problem);
    // A refusal is final: no waiting for ETCD_WAIT_TIMEOUT.
    expect(call.endedAt - call.startedAt).toBeLessThan(WAIT_S * 1000);
    await stop(plugin);
    expect(plugin.output()).toMatch(problem);
    expect(plugin.output()).not.toContain(wrong);
  });

  it('should verify etcd against the default roots when only a client certificate is given', async () => {
    // grpc-js's default roots come from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: here the test CA.
    const plugin = await start({
      ETCD_CA_FILE: '',
      GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: etcd.files.caCert,
    });
    await eventually('/readyz 200', async () => (await readyz(plugin)).status === 200, 15_000);
    expect((await readyz(plugin)).text).toBe(
      '{"status":"ready","checks":{"etcd":"ok","socket":"ok","node-id":"ok"}}',
    );
    await stop(plugin);
  });

  it('should never show the password or the private key', () => {
    const key = readFileSync(etcd.files.clientKey, 'utf8');
    const keyLines = key.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    expect(keyLines.length).toBeGreaterThan(0);
    const all = seen.join('\n');
    expect(all.length).toBeGreaterThan(1000);
    expect(all).not.toContain(PASSWORD);
    for (const line of keyLines) {
      expect(all).not.toContain(line);
    }
  });
});

function withoutEmpty(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
}
