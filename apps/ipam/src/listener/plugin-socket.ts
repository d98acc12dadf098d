import {
  Inject,
  Injectable,
  type INestApplication,
  Logger,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Server } from 'node:http';

import { IPAM_CONFIG, type IpamConfig } from '#app/config';

import { pluginAdapterOf } from '../app.setup.js';
import { PluginListener } from './plugin-listener.js';
import { removeSocket } from './socket-file.js';

/**
 * dockerd force-kills a managed plugin 10 s after SIGTERM (docs/docker-here.md): calls still in
 * flight get most of that, the rest is left for closing etcd.
 */
export const DRAIN_TIMEOUT_MS = 8_000;

export { HEADERS_TIMEOUT_MS } from './plugin-listener.js';

export interface ListenerStatus {
  ok: boolean;
  detail: string;
}

/**
 * Owns the unix socket the plugin calls are served on: prepares the path, listens, restricts the
 * mode, and on shutdown stops accepting, lets calls in flight finish (bounded) and removes the
 * file. Shutdown runs in `onModuleDestroy`, which Nest calls for this module before the modules
 * it imports (allocators, store), so in-flight calls finish before etcd is closed.
 */
@Injectable()
export class PluginSocket implements OnModuleDestroy {
  private readonly logger = new Logger('PluginSocket');
  private readonly path: string;
  private server: Server | undefined;
  private listener: PluginListener | undefined;
  /** The socket main opened before the app loaded, until listen() takes it over. */
  private early: PluginListener | undefined;
  private inFlight = 0;
  private state: 'idle' | 'listening' | 'closing' | 'closed' = 'idle';

  constructor(@Inject(IPAM_CONFIG) config: IpamConfig) {
    this.path = config.socketPath;
  }

  /**
   * Starts serving `app` on the socket, through the one adopted when main opened it before the
   * app had loaded. Does not wait for etcd: Docker must be able to activate the plugin while etcd
   * is still starting (spec 1.2).
   */
  async listen(app: INestApplication): Promise<void> {
    await app.init();
    if (this.state !== 'idle') {
      return; // a stop signal came while the app was initialising: close() abandoned the socket
    }
    const listener = this.early ?? (await PluginListener.open(this.path));
    this.early = undefined;
    const server = listener.server;
    server.on('request', (_req, res) => {
      this.inFlight++;
      res.once('close', () => this.inFlight--);
    });
    // The listener's HTTP server feeds the app through the plugin's adapter (exact routes first).
    listener.attach(pluginAdapterOf(app).handle);
    this.server = server;
    this.listener = listener;
    this.state = 'listening';
    this.logger.log(`serving the plugin API on ${this.path}`);
  }

  /**
   * Takes charge of the socket main opened early, before the shutdown hooks are installed: a
   * stop from then on answers the calls waiting on it (close) even if listen() has not finished.
   */
  adopt(early: PluginListener | undefined): void {
    this.early ??= early;
  }

  status(): ListenerStatus {
    const listening = this.state === 'listening' && this.listener?.listening === true;
    return listening
      ? { ok: true, detail: 'ok' }
      : { ok: false, detail: `not listening on ${this.path} (${this.state})` };
  }

  async onModuleDestroy(): Promise<void> {
    await this.close(DRAIN_TIMEOUT_MS);
  }

  /** Stops accepting, waits up to `timeoutMs` for calls in flight, then cuts what is left. */
  async close(timeoutMs: number): Promise<void> {
    const early = this.early;
    if (this.state === 'idle' && early !== undefined) {
      // Stopped before the app was attached: the waiting calls get a 503, the file goes away.
      this.state = 'closed';
      this.early = undefined;
      this.logger.log(`shutting down before serving: closing ${this.path}`);
      await early.abandon();
      return;
    }
    const server = this.server;
    const listener = this.listener;
    if (server === undefined || listener === undefined || this.state !== 'listening') {
      return;
    }
    this.state = 'closing';
    this.logger.log(`shutting down: no longer accepting calls on ${this.path}`);
    // Resolves once every connection the listener accepted has ended.
    const closed = listener.close();
    if (this.inFlight > 0) {
      this.logger.log(`waiting up to ${timeoutMs / 1000} s for ${this.inFlight} call(s) in flight`);
    }
    // Docker keeps connections alive between calls: close each one as soon as it is idle.
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      closed.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearInterval(sweep);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn(`cutting ${this.inFlight} call(s) still in flight after ${timeoutMs} ms`);
      server.closeAllConnections();
      await closed;
    }
    await removeSocket(this.path, listener.ino);
    this.state = 'closed';
    this.logger.log('plugin socket closed');
  }
}
