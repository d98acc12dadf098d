import { unlinkSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';

import { prepareSocketPath, restrictSocket } from './socket-file.js';

/**
 * The unix socket listener of the plugin API. It can be opened before Nest, etcd3 and the
 * validators have loaded (a second or more on a busy host), so Docker can connect at once: the
 * connections accepted meanwhile wait, unread, until the app's HTTP server is attached, and are
 * then served in order. The HTTP server itself never listens; every connection reaches it through
 * this listener, which is also what counts connections for a graceful close.
 */
export class PluginListener {
  private readonly queued = new Set<Socket>();
  private http: HttpServer | undefined;

  private constructor(
    readonly path: string,
    readonly server: Server,
    readonly ino: bigint,
  ) {
    server.on('connection', (socket) => {
      if (this.http) {
        this.http.emit('connection', socket);
        return;
      }
      this.queued.add(socket);
      socket.once('close', () => this.queued.delete(socket));
    });
  }

  /** Prepares the path (refusing when another plugin answers on it), listens, restricts it. */
  static async open(path: string): Promise<PluginListener> {
    await prepareSocketPath(path);
    const server = createServer();
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

  /** Hands every queued and future connection to `http`. */
  attach(http: HttpServer): void {
    this.http = http;
    // An HTTP server tracks its connections (idle closing, header timeouts) from 'listening' on.
    http.emit('listening');
    for (const socket of this.queued) {
      if (!socket.destroyed) {
        http.emit('connection', socket);
      }
    }
    this.queued.clear();
  }

  /** Stops accepting; resolves once every accepted connection has ended. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** For a start that fails before the app is attached: stop listening and remove the file. */
  abandon(): void {
    for (const socket of this.queued) {
      socket.destroy();
    }
    this.queued.clear();
    this.server.close();
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
