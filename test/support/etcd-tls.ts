// A single etcd member that serves clients over TLS only and requires a client certificate
// (--client-cert-auth), with throwaway certificates made by openssl: a CA, a server certificate
// for IP 127.0.0.1, a client certificate, and a second, unrelated CA for "wrong CA" tests.
// Needs Debian's etcd-server and openssl. Swept like etcd.ts's clusters when a test process died.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePorts, sweepStaleEtcdDirs } from './etcd.js';
import {
  errorMessage,
  onProcessExit,
  run,
  spawnDaemon,
  tailFile,
  waitFor,
  writeOwnerFileSync,
  type Daemon,
} from './proc.js';

export interface TlsFiles {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing of this etcd. */
  otherCaCert: string;
}

export interface TlsEtcd {
  /** `https://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly dir: string;
  readonly files: TlsFiles;
  readonly pid: number;
  logs(): string;
  /** Kills etcd and removes its directory (certificates included). Idempotent. */
  stop(): Promise<void>;
}

const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir, timeoutMs: 30_000 });
}

async function selfSignedCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

async function signedCert(dir: string, name: string, cn: string, ext: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), ext);
  await openssl(dir, [
    'req',
    ...EC_KEY,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

/** Generates the certificates of TlsFiles into `dir`. */
export async function makeCertificates(dir: string): Promise<TlsFiles> {
  await selfSignedCa(dir, 'ca');
  await selfSignedCa(dir, 'other-ca');
  await signedCert(
    dir,
    'server',
    '127.0.0.1',
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  await signedCert(dir, 'client', 'kipam-test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherCaCert: join(dir, 'other-ca.crt'),
  };
}

/** GET `url` with the test CA and client certificate; the parsed JSON body, or undefined. */
function httpsGetJson(url: string, files: TlsFiles, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        ca: readFileSync(files.caCert),
        cert: readFileSync(files.clientCert),
        key: readFileSync(files.clientKey),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString()));
          } catch {
            resolve(undefined);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/** Starts etcd with client TLS (client certificates required); see TlsEtcd. */
export async function startTlsEtcd(opts: { timeoutMs?: number } = {}): Promise<TlsEtcd> {
  sweepStaleEtcdDirs();
  const dir = await mkdtemp(join(tmpdir(), 'etcd-tls-'));
  writeOwnerFileSync(dir, { kind: 'etcd' });
  let daemon: Daemon | undefined;
  const unhook = onProcessExit(() => {
    daemon?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const stop = async (): Promise<void> => {
    await daemon?.stop({ signal: 'SIGKILL' });
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    unhook();
  };
  try {
    const files = await makeCertificates(dir);
    const [clientPort, peerPort] = await freePorts(2);
    const endpoint = `https://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const logFile = join(dir, 'etcd.log');
    const flags: [string, string][] = [
      ['--name', 'tls0'],
      ['--data-dir', join(dir, 'data')],
      ['--listen-client-urls', endpoint],
      ['--advertise-client-urls', endpoint],
      ['--listen-peer-urls', peer],
      ['--initial-advertise-peer-urls', peer],
      ['--initial-cluster', `tls0=${peer}`],
      ['--initial-cluster-state', 'new'],
      ['--cert-file', files.serverCert],
      ['--key-file', files.serverKey],
      ['--trusted-ca-file', files.caCert],
      ['--logger', 'zap'],
      ['--log-level', 'error'],
      ['--log-outputs', logFile],
    ];
    daemon = spawnDaemon(ETCD_BIN, [...flags.flat(), '--client-cert-auth'], {
      logFile: join(dir, 'stdout.log'),
      parentDeathSignal: 'SIGKILL',
    });
    const running = daemon;
    const logs = (): string =>
      [tailFile(logFile, 1500), tailFile(join(dir, 'stdout.log'), 1500)].join('\n');
    await waitFor(`TLS etcd at ${endpoint} /health`, opts.timeoutMs ?? 20_000, async () => {
      if (!running.running()) {
        throw new Error(`etcd exited: ${logs()}`);
      }
      const health = await httpsGetJson(`${endpoint}/health`, files, 2000);
      return (health as { health?: unknown } | undefined)?.health === 'true' ? true : undefined;
    });
    return { endpoint, dir, files, pid: running.pid, logs, stop };
  } catch (e) {
    await stop().catch(() => undefined);
    throw new Error(`TLS etcd did not start: ${errorMessage(e)}`, { cause: e });
  }
}
