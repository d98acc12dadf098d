import { unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** How long an abandoned socket still answers (with 503) calls that were already on the wire. */
export const ABANDON_GRACE_MS = 250;

/**
 * The HTTP server of the plugin API on its unix socket. main opens it before Nest, etcd3 and the
 * validators have loaded (a second or more on a busy host), so that Docker can connect at once:
 * until the app is attached, the three handshake calls are answered here (they depend on
 * nothing) and every other call waits, unread, to be handed to the app in arrival order.
 */
export class PluginListener {
  private readonly waiting: [IncomingMessage, ServerResponse][] = [];
  private app: RequestListener | undefined;
  /** Set by abandon: why every call is now refused. */
  private refusal: string | undefined;
  private abandoned: Promise<void> | undefined;
  /** The inode of the socket file we created: removeSocket leaves a successor's file alone. */
  private inode = 0n;

  private constructor(
    readonly path: string,
    readonly server: Server,
  ) {
    // Routing is in place before the socket exists: Docker (or a test) may connect the moment
    // the file appears, and a request the server has no listener for is never answered.
    server.on('request', (req, res) => this.route(req, res));
  }

  get ino(): bigint {
    return this.inode;
  }

  /** Prepares the path (refusing when another plugin answers on it), listens, restricts it. */
  static async open(path: string): Promise<PluginListener> {
    await prepareSocketPath(path);
    // Calls may wait on etcd for up to ETCD_WAIT_TIMEOUT (max 3600 s) and Docker never times
    // them out, so there is no request timeout; slow headers are bounded instead.
    const server = createServer({ requestTimeout: 0, headersTimeout: HEADERS_TIMEOUT_MS });
    const listener = new PluginListener(path, server);
    // The file is created with the mode the umask leaves; until chmod narrows it to 0660, a
    // umask of 0117 keeps it from being wider. Nothing else runs this early in the process.
    const umask = process.umask(0o117);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(umask);
    }
    listener.inode = await restrictSocket(path);
    return listener;
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
   * waiting get a clean 503 instead of a dropped connection. For ABANDON_GRACE_MS the socket
   * keeps accepting and answers every call with that 503, so that a call already on the wire
   * when the signal came (connected, or written on a kept-alive connection, but not yet read)
   * is not reset either; then the server closes and the socket file goes away.
   */
  abandon(reason = 'the plugin is shutting down', graceMs = ABANDON_GRACE_MS): Promise<void> {
    if (this.abandoned === undefined) {
      this.refusal = reason;
      for (const [req, res] of this.waiting.splice(0)) {
        this.refuse(req, res);
      }
      this.abandoned = (async () => {
        await sleep(graceMs);
        this.server.close();
        this.server.closeAllConnections();
        try {
          unlinkSync(this.path);
        } catch {
          // already gone
        }
      })();
    }
    return this.abandoned;
  }

  private refuse(req: IncomingMessage, res: ServerResponse): void {
    if (res.headersSent || res.writableEnded) {
      return;
    }
    res.shouldKeepAlive = false;
    const answer = (): void => writeError(res, 503, this.refusal ?? 'the plugin is shutting down');
    if (req.readableEnded) {
      answer();
      return;
    }
    // Read the body first: a reply written before it is read can reset the client's write.
    req.resume();
    req.once('end', answer);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    if (this.refusal !== undefined) {
      this.refuse(req, res);
      return;
    }
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
