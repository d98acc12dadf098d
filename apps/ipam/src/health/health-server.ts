import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { EtcdConnection } from '#app/store';
import { IPAM_CONFIG, type IpamConfig } from '#app/config';

import { writeError, writeJson } from '../plugin-server/json-wire.js';
import { PluginServer } from '../plugin-server/plugin-server.js';

export interface HealthReport {
  status: 'ok' | 'ready' | 'not ready';
  checks?: Record<string, string>;
}

/**
 * The health listener (README "Health"), a plain node:http server rather than a second Nest app:
 * it serves exactly `GET /healthz` and `GET /readyz` (never a plugin call: those are served only
 * on the unix socket), everything else 404.
 */
@Injectable()
export class HealthServer implements OnModuleDestroy {
  private readonly logger = new Logger('HealthServer');
  private readonly server: Server;

  constructor(
    @Inject(IPAM_CONFIG) private readonly config: IpamConfig,
    private readonly store: EtcdConnection,
    private readonly socket: PluginServer,
  ) {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 15_000;
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = this.config.health;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') {
      throw new Error(`health listener has no TCP address (${String(address)})`);
    }
    this.logger.log(`serving /healthz and /readyz on ${address.address}:${address.port}`);
    return address;
  }

  /** 200 when etcd answers and the plugin socket is listening, else 503 naming what failed. */
  readiness(): { status: number; report: HealthReport } {
    const etcd = this.store.status();
    const socket = this.socket.status();
    const ready = etcd.ready && socket.ok;
    return {
      status: ready ? 200 : 503,
      report: {
        status: ready ? 'ready' : 'not ready',
        checks: { etcd: etcd.ready ? 'ok' : etcd.detail, socket: socket.detail },
      },
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      writeJson(res, 200, { status: 'ok' } satisfies HealthReport);
    } else if (req.method === 'GET' && path === '/readyz') {
      const { status, report } = this.readiness();
      writeJson(res, status, report);
    } else {
      writeError(
        res,
        404,
        `${req.method ?? '?'} ${path ?? ''} not found: this listener serves GET /healthz and GET /readyz`,
      );
    }
    // Health requests carry no body; drop whatever a client sent.
    req.resume();
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.server.listening) {
      return;
    }
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
