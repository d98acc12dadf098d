import { unlinkSync } from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';

import { writeError, writeJson } from '../http/json-reply.js';
import { HANDSHAKE_REPLIES } from '../plugin/handshake.js';
import { prepareSocketPath, restrictSocket } from './socket-file.js';

/** Headers must arrive promptly; the body read is bounded by the body reader. */
export const HEADERS_TIMEOUT_MS = 30_000;

/**
 * The HTTP server of the plugin API on its unix socket. main opens it before Nest, etcd3 and the
 * validators have loaded (a second or more on a busy host), so that Docker can connect at once:
 * until the app is attached, the three handshake calls are answered here (they depend on
 * nothing) and every other call waits, unread, to be handed to the app in arrival order.
 */
export class PluginListener {
  private readonly waiting: [IncomingMessage, ServerResponse][] = [];
  private app: RequestListener | undefined;

  private constructor(
    readonly path: string,
    readonly server: Server,
    readonly ino: bigint,
  ) {
    server.on('request', (req, res) => this.route(req, res));
  }

  /** Prepares the path (refusing when another plugin answers on it), listens, restricts it. */
  static async open(path: string): Promise<PluginListener> {
    await prepareSocketPath(path);
    // Calls may wait on etcd for up to ETCD_WAIT_TIMEOUT (max 3600 s) and Docker never times
    // them out, so there is no request timeout; slow headers are bounded instead.
    const server = createServer({ requestTimeout: 0, headersTimeout: HEADERS_TIMEOUT_MS });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new PluginListener(path, server, await restrictSocket(path));
  }

  get listening(): boolean {
    return this.server.listening;
  }

  /** From now on every call goes to `app`, starting with those that waited. */
  attach(app: RequestListener): void {
    this.app = app;
    for (const [req, res] of this.waiting.splice(0)) {
      if (!res.writableEnded && !req.destroyed) {
        app(req, res);
      }
    }
  }

  /** Stops accepting; resolves once every connection has ended. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /**
   * For a stop before the app is attached (a signal, a bad configuration): calls that were
   * waiting get a clean 503 instead of a dropped connection, then the socket goes away.
   */
  abandon(reason = 'the plugin is shutting down'): void {
    for (const [, res] of this.waiting.splice(0)) {
      if (!res.headersSent) {
        res.shouldKeepAlive = false;
        writeError(res, 503, reason);
      }
    }
    this.server.close();
    this.server.closeIdleConnections();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (this.app) {
      this.app(req, res);
      return;
    }
    const reply = req.method === 'POST' ? HANDSHAKE_REPLIES.get(req.url ?? '') : undefined;
    if (reply) {
      // Handshake bodies are empty; drain whatever came so the connection stays usable.
      req.resume();
      req.once('end', () => writeJson(res, 200, reply));
      return;
    }
    this.waiting.push([req, res]);
  }
}
