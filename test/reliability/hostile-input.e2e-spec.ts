// Issue 5, item 5: hostile input to the built plugin. A property-based run (fast-check) sends
// thousands of random and mutated bodies to every call: never a 5xx other than 503, always a
// JSON reply, never a change in etcd for a rejected call, and the plugin still serves
// afterwards. Oversized bodies and slow clients (slowloris) are bounded: 413, 408, closed
// connections, and a plugin that keeps answering while they hang on.
import { connect, type Socket } from 'node:net';
import * as fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RawEtcd } from '../int/harness.js';
import {
  httpGet,
  pluginCall,
  startPlugin,
  type PluginProcess,
  type WireReply,
} from '../e2e/plugin-process.js';
import { uniquePrefix } from '../support/prefix.js';
import { rssMiB } from './calls.js';

const endpoints = inject('etcdEndpoints');

/** How long the property-based run may take (it stops early, successfully, at this limit). */
const FUZZ_MS = 45_000;
const SLOW_CLIENTS = 100;

const METHODS = [
  'Plugin.Activate',
  'IpamDriver.GetCapabilities',
  'IpamDriver.GetDefaultAddressSpaces',
  'IpamDriver.RequestPool',
  'IpamDriver.ReleasePool',
  'IpamDriver.RequestAddress',
  'IpamDriver.ReleaseAddress',
] as const;

/** A valid body per call, the seed of the mutations (values refer to the test's pool). */
const VALID: Record<string, Record<string, unknown>> = {
  'Plugin.Activate': {},
  'IpamDriver.GetCapabilities': {},
  'IpamDriver.GetDefaultAddressSpaces': {},
  'IpamDriver.RequestPool': {
    AddressSpace: 'kontenaglobal',
    Pool: '10.77.0.0/16',
    SubPool: '10.77.128.0/17',
    Options: { network: 'hostile' },
    V6: false,
  },
  'IpamDriver.ReleasePool': { PoolID: 'hostile' },
  'IpamDriver.RequestAddress': {
    PoolID: 'hostile',
    Address: '10.77.200.1',
    Options: { RequestAddressType: 'com.docker.network.gateway' },
  },
  'IpamDriver.ReleaseAddress': { PoolID: 'hostile', Address: '10.77.128.5' },
};

const nasty = fc.constantFrom<unknown>(
  '',
  ' ',
  '0',
  '-1',
  'null',
  'true',
  '10.77.0.0/16',
  '10.77.0.0/33',
  '10.77.0.1/16',
  '10.77.300.0/16',
  '10.77.0.0/-1',
  '10.77.0.0/08',
  '010.077.000.000/16',
  '10.78.0.0/24',
  '10.77.128.0/17',
  '10.77.200.7',
  '10.77.255.255',
  '10.77.0.0',
  '255.255.255.255',
  '0.0.0.0',
  '::1',
  '::/0',
  'fe80::/64',
  '::ffff:10.77.0.1',
  'hostile',
  'other',
  'local-00000000-0000-0000-0000-000000000000',
  '../../../etc/passwd',
  'a/b',
  'a b',
  '%2F',
  '\u0000',
  '\ud800',
  'é',
  '💥',
  'x'.repeat(300),
  '1'.repeat(5_000),
  'com.docker.network.gateway',
  'com.docker.network.endpoint.name',
  '__proto__',
  'constructor',
  'toString',
  Number.MAX_SAFE_INTEGER,
  1e308,
  -0,
  [],
  {},
  { __proto__: null },
);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.jsonValue({ maxDepth: 3 }),
  fc.string(),
  fc.dictionary(
    fc.oneof(fc.string(), fc.constantFrom('network', '__proto__', 'constructor', '', '💥')),
    fc.oneof(fc.string(), nasty),
  ),
);

/** A valid body with fields dropped, replaced or added (own `__proto__` keys included). */
function mutated(method: string): fc.Arbitrary<Record<string, unknown>> {
  const base = VALID[method] ?? {};
  const fields = Object.keys(base);
  return fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom('keep', 'drop', 'replace'), anyValue), {
        minLength: fields.length,
        maxLength: fields.length,
      }),
      fc.array(
        fc.tuple(
          fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'Options', 'Pool')),
          anyValue,
        ),
        { maxLength: 3 },
      ),
    )
    .map(([edits, extra]) => {
      const out: [string, unknown][] = [];
      fields.forEach((field, i) => {
        const [edit, value] = edits[i] ?? ['keep', undefined];
        if (edit === 'keep') {
          out.push([field, base[field]]);
        } else if (edit === 'replace') {
          out.push([field, value]);
        }
      });
      return Object.fromEntries([...out, ...extra]);
    });
}

interface Input {
  method: string;
  body: string | Buffer;
}

const input: fc.Arbitrary<Input> = fc
  .oneof(
    { arbitrary: fc.constantFrom(...METHODS), weight: 20 },
    {
      arbitrary: fc.constantFrom('IpamDriver.Nope', 'ipamdriver.requestpool', 'Plugin.Activate/'),
      weight: 1,
    },
  )
  .chain((method) =>
    fc.record({
      method: fc.constant(method),
      body: fc.oneof(
        { arbitrary: mutated(method).map((b) => JSON.stringify(b)), weight: 8 },
        { arbitrary: fc.jsonValue().map((v) => JSON.stringify(v) ?? ''), weight: 2 },
        {
          arbitrary: fc
            .tuple(mutated(method), fc.nat())
            .map(([b, cut]) => JSON.stringify(b).slice(0, cut % (JSON.stringify(b).length + 1))),
          weight: 1,
        },
        { arbitrary: fc.string({ unit: 'binary' }), weight: 1 },
        { arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)), weight: 1 },
        {
          arbitrary: fc.constantFrom(
            '{',
            '[]',
            'null',
            '"x"',
            '{"PoolID":',
            '\ufeff{}',
            '{"a":1}garbage',
            '{}{}',
            '\n',
            '{"Options":{"network":{"$gt":""}}}',
            `{"PoolID":"hostile","Address":"10.77.0.1","Options":${'['.repeat(5000)}${']'.repeat(5000)}}`,
          ),
          weight: 1,
        },
      ),
    }),
  );

describe('hostile input', () => {
  let plugin: PluginProcess;
  let prefix: string;
  let raw: RawEtcd;
  const slow: Socket[] = [];
  let slowSince = 0;
  /** Per slow connection: what the plugin answered before closing it. */
  const slowAnswers: string[] = [];
  const slowClosedAt: number[] = [];

  beforeAll(async () => {
    prefix = uniquePrefix('hostile');
    raw = new RawEtcd(endpoints, prefix);
    plugin = await startPlugin({
      env: {
        NODE_ID: 'hostile-node',
        ETCD_ENDPOINT: endpoints.join(','),
        ETCD_PREFIX: prefix,
        ETCD_WAIT_TIMEOUT: '20',
        LOG_LEVEL: 'error',
      },
    });
    const pool = await call('IpamDriver.RequestPool', VALID['IpamDriver.RequestPool']);
    check(pool.status === 200, `the test pool: ${pool.status} ${pool.text}`);
    // Slow clients, left hanging during the whole file: headers that never end, bodies that
    // never end, and connections that never send a byte.
    slowSince = Date.now();
    for (let i = 0; i < SLOW_CLIENTS; i++) {
      const kind = i % 3;
      const socket = connect(plugin.socketPath);
      const index = slow.length;
      slow.push(socket);
      slowAnswers.push('');
      socket.on('data', (d: Buffer) => (slowAnswers[index] += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => (slowClosedAt[index] = Date.now()));
      if (kind === 0) {
        socket.write('POST /IpamDriver.RequestPool HTTP/1.1\r\nHost: plugin\r\nX-Slow: ');
      } else if (kind === 1) {
        socket.write(
          'POST /IpamDriver.RequestPool HTTP/1.1\r\nHost: plugin\r\nContent-Length: 100\r\n\r\n{"Op',
        );
      }
    }
  });

  afterAll(async () => {
    slow.forEach((s) => s.destroy());
    await plugin?.stop();
    await raw?.client.delete().prefix(`${prefix}/`);
    raw?.close();
  });

  function call(method: string, body?: unknown, payload?: string | Buffer): Promise<WireReply> {
    return pluginCall(plugin.socketPath, method, body, { raw: payload, timeoutMs: 30_000 });
  }

  /** Cheap fingerprint of everything under the prefix: key count and the newest mod revision. */
  async function fingerprint(): Promise<string> {
    const key = Buffer.from(`${prefix}/`);
    const end = Buffer.from(`${prefix}0`);
    const res = await raw.client.kv.range({
      key,
      range_end: end,
      limit: 1,
      sort_order: 'Descend',
      sort_target: 'Mod',
      keys_only: true,
    });
    return `${res.count}@${res.kvs[0]?.mod_revision ?? 0}`;
  }

  it('should answer thousands of random and mutated bodies without a 5xx or a change in etcd on rejection', async () => {
    const statuses = new Map<number, number>();
    let runs = 0;
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(input, async ({ method, body }) => {
        runs++;
        const before = await fingerprint();
        const reply = await call(method, undefined, body);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        const what = `${method} → ${reply.status} ${reply.text.slice(0, 300)}`;
        check(reply.status === 503 || reply.status < 500, `a 5xx other than 503: ${what}`);
        check(reply.contentType === 'application/json', `not JSON: ${what}`);
        check(reply.body !== undefined, `no JSON object: ${what}`);
        check(reply.status === 200 || typeof reply.body?.Err === 'string', `no Err: ${what}`);
        if (reply.status >= 400 && reply.status < 500) {
          const after = await fingerprint();
          check(after === before, `etcd changed (${before} → ${after}) on a rejected ${what}`);
        }
      }),
      { numRuns: 1_000_000, interruptAfterTimeLimit: FUZZ_MS, markInterruptAsFailure: false },
    );
    console.log(
      `${runs} bodies in ${Date.now() - started} ms; statuses: ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(runs).toBeGreaterThan(1_000);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(100);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
    // Still alive and serving, and no bug was logged.
    expect(plugin.child.exitCode).toBeNull();
    expect((await call('Plugin.Activate')).status).toBe(200);
    const pool = await call('IpamDriver.RequestPool', { Options: { network: 'after-fuzz' } });
    expect(pool.text).toMatch(/^\{"PoolID":"after-fuzz"/);
    const address = await call('IpamDriver.RequestAddress', { PoolID: 'after-fuzz' });
    expect(address.text).toMatch(/^\{"Address":"10\.\d+\.\d+\.\d+\/24"/);
    expect((await httpGet(`${plugin.healthUrl}/readyz`)).status).toBe(200);
    expect(plugin.output()).not.toMatch(/ERROR|internal error/);
  });

  it('should refuse oversized bodies with 413 without holding them in memory', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    // Declared too large, sent whole: 413 each. One round to warm up, then 256 MiB in all, four
    // uploads at a time: memory grows by far less than that.
    let rssBefore = 0;
    for (let round = 0; round <= 8; round++) {
      const declared = await Promise.all(
        Array.from({ length: 4 }, () => call('IpamDriver.RequestPool', undefined, big)),
      );
      expect(declared.map((r) => r.status)).toEqual([413, 413, 413, 413]);
      if (round === 0) {
        rssBefore = rssMiB(plugin.child.pid ?? 0);
      }
    }
    // Chunked (no Content-Length): refused once past 1 MiB.
    const chunked = await new Promise<number>((resolve, reject) => {
      const socket = connect(plugin.socketPath);
      let answer = '';
      socket.on('data', (d: Buffer) => {
        answer += d.toString();
        const status = /^HTTP\/1\.1 (\d+)/.exec(answer)?.[1];
        if (status) {
          socket.destroy();
          resolve(Number(status));
        }
      });
      socket.on('error', reject);
      socket.write(
        'POST /IpamDriver.RequestPool HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      const chunk = Buffer.alloc(64 * 1024, 'y');
      for (let i = 0; i < 40; i++) {
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        socket.write('\r\n');
      }
    });
    expect(chunked).toBe(413);
    // Far too large: the plugin stops reading and cuts the connection (16 MiB at most).
    const cut = await new Promise<{ bytes: number; answer: string }>((resolve) => {
      const socket = connect(plugin.socketPath);
      let answer = '';
      let bytes = 0;
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ bytes, answer }));
      socket.write(
        `POST /IpamDriver.RequestPool HTTP/1.1\r\nHost: p\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
      );
      const chunk = Buffer.alloc(256 * 1024, 'z');
      const pump = (): void => {
        while (!socket.destroyed && bytes < 100 * 1024 * 1024) {
          bytes += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    expect(cut.answer).toMatch(/^HTTP\/1\.1 413/);
    expect(cut.bytes).toBeLessThan(40 * 1024 * 1024);
    const rssAfter = rssMiB(plugin.child.pid ?? 0);
    console.log(`oversized bodies: RSS ${rssBefore} MiB before, ${rssAfter} MiB after`);
    expect(rssAfter).toBeLessThan(rssBefore + 64);
    expect((await call('Plugin.Activate')).status).toBe(200);
  });

  it('should time out slow clients while serving everybody else', async () => {
    // They have hung on since the start of this file; the plugin served the run above meanwhile.
    const t0 = Date.now();
    expect((await call('IpamDriver.GetCapabilities')).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2_000);
    // Bodies: 408 after 30 s. Headers and silent connections: closed by Node's header timeout
    // (30 s, checked every 30 s). Wait for all of them, bounded.
    const deadline = slowSince + 75_000;
    while (
      slowClosedAt.filter((t) => t !== undefined).length < SLOW_CLIENTS &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const open = slow.filter((_, i) => slowClosedAt[i] === undefined).length;
    const closedAfter = slowClosedAt.filter((t) => t !== undefined).map((t) => t - slowSince);
    console.log(
      `slow clients: ${SLOW_CLIENTS - open} closed by the plugin after ${Math.min(...closedAfter)}–${Math.max(...closedAfter)} ms, ${open} still open`,
    );
    expect(open).toBe(0);
    for (let i = 1; i < SLOW_CLIENTS; i += 3) {
      expect(slowAnswers[i]).toMatch(/^HTTP\/1\.1 408/);
    }
    expect((await call('Plugin.Activate')).status).toBe(200);
  });
});

/** An assertion that fast-check reports with its counterexample (and that works in hooks). */
function check(ok: boolean, message: string): void {
  if (!ok) {
    throw new Error(message);
  }
}
