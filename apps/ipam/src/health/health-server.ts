import type { LoggerService } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { METRICS } from '#app/metrics';
import type { NodeIdStatus, StoreStatus } from '#app/store';

import { writeError, writeJson } from '../plugin-server/json-wire.js';
import type { ListenerStatus } from '../plugin-server/plugin-server.js';

export interface HealthReport {
  status: 'ok' | 'ready' | 'not ready';
  checks?: Record<string, string>;
}

export interface Readiness {
  status: number;
  report: HealthReport;
}

/** Until the app has loaded: etcd is not even connected yet, and calls wait on the socket. */
export const STARTING: Readiness = {
  status: 503,
  report: { status: 'not ready', checks: { app: 'starting' } },
};

/**
 * 200 when etcd answers (and is recent enough), the plugin socket is listening and no other live
 * plugin holds this NODE_ID, else 503 naming what failed.
 */
export function readiness(
  etcd: StoreStatus,
  socket: ListenerStatus,
  nodeId: NodeIdStatus,
): Readiness {
  const ready = etcd.ready && socket.ok && nodeId.ok;
  return {
    status: ready ? 200 : 503,
    report: {
      status: ready ? 'ready' : 'not ready',
      checks: {
        etcd: etcd.ready ? 'ok' : etcd.detail,
        socket: socket.detail,
        'node-id': nodeId.detail,
      },
    },
  };
}

/**
 * The health listener (docs/operations.md, "Health"), a plain node:http server rather than a second Nest app:
 * it serves exactly `GET /healthz`, `GET /readyz` and `GET /metrics` (never a plugin call: those are served only
 * on the unix socket), everything else 404. main opens it with the socket, before the app has
 * loaded, so that the port never refuses while the plugin runs; /readyz says "starting" until
 * the app hands it its checks ({@link attach}).
 */
export class HealthServer {
  private check: () => Readiness = () => STARTING;

  private constructor(private readonly http: Server) {}

  static async open(
    listen: { host: string; port: number },
    logger: LoggerService,
  ): Promise<HealthServer> {
    const http = createServer();
    http.headersTimeout = 10_000;
    http.requestTimeout = 15_000;
    const server = new HealthServer(http);
    http.on('request', (req: IncomingMessage, res: ServerResponse) => server.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(listen.port, listen.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const { address, port } = server.address;
    logger.log(`serving /healthz, /readyz and /metrics on ${address}:${port}`, 'HealthServer');
    return server;
  }

  get address(): AddressInfo {
    const address = this.http.address();
    if (address === null || typeof address === 'string') {
      throw new Error(`health listener has no TCP address (${String(address)})`);
    }
    return address;
  }

  /** The app is up: /readyz answers with `check` from now on. */
  attach(check: () => Readiness): void {
    this.check = check;
  }

  onModuleDestroy(): Promise<void> {
    return this.close();
  }

  async close(): Promise<void> {
    if (!this.http.listening) {
      return;
    }
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
  }

  /** Prometheus's text format (README, "Metrics"); a failure to collect is a 500, never a crash. */
  private metrics(res: ServerResponse): void {
    METRICS.scrape().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'Content-Type': contentType }).end(body);
      },
      (e: unknown) => {
        writeError(res, 500, `metrics failed: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      writeJson(res, 200, { status: 'ok' } satisfies HealthReport);
    } else if (req.method === 'GET' && path === '/readyz') {
      const { status, report } = this.check();
      writeJson(res, status, report);
    } else if (req.method === 'GET' && path === '/metrics') {
      this.metrics(res);
    } else {
      writeError(
        res,
        404,
        `${req.method ?? '?'} ${path ?? ''} not found: this listener serves GET /healthz, GET /readyz and GET /metrics`,
      );
    }
    // Health requests carry no body; drop whatever a client sent.
    req.resume();
  }
}
