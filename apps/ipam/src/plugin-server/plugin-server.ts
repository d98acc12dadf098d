import type { LoggerService } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import type { LogEvent } from '#app/logging';
import { METRICS } from '#app/metrics';

import { CAPABILITIES_ROUTE, HANDSHAKE_REPLIES } from './handshake.js';
import { MacCapability } from './mac-capability.js';
import { readJsonBody, replyNoteOf, writeError, writeJson } from './json-wire.js';
import { listenOnSocket, removeSocket } from './socket-file.js';

/**
 * A route's handler: a handshake reply, or Nest's router proxy for a controller method (guards,
 * validation pipe, handler, exception filter), which writes the reply itself. `next` is called
 * only by a handler that passes the call on, which is a bug here.
 */
export type CallHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => unknown;

/** The request as Nest's `@Body()` sees it: Express keeps the parsed body in `req.body`. */
interface RequestWithBody extends IncomingMessage {
  body?: unknown;
}

/** Headers must arrive promptly; the body read is bounded by readJsonBody. */
export const HEADERS_TIMEOUT_MS = 30_000;

/** How long an abandoned socket still answers (with 503) calls that were already on the wire. */
export const ABANDON_GRACE_MS = 250;

/**
 * dockerd force-kills a managed plugin 10 s after SIGTERM: calls still in flight get most of
 * that, the rest is left for closing etcd.
 */
export const DRAIN_TIMEOUT_MS = 8_000;

export interface ListenerStatus {
  ok: boolean;
  detail: string;
}

const LOG_CONTEXT = 'PluginSocket';

/** A call's log line with its fields for LOG_FORMAT=json: the call, its status, its duration. */
function event(msg: string, call: string, seconds: number, status?: number): LogEvent {
  return { msg, call, status, duration: Math.round(seconds * 1e6) / 1000 };
}
const CALL_LOG_CONTEXT = 'PluginCall';

/**
 * The plugin API on its unix socket, opened by main right after the configuration check and
 * before the app (Nest's modules, etcd3) has loaded, a second or more on a busy host, so that
 * Docker can connect at once.
 *
 * One route table serves every call, before and after the app has loaded: exact POST paths to
 * handlers, the handshake's from the start, the controllers' once Nest registers them (see
 * PluginHttpAdapter). A call on a path the table does not have waits, unread, until the app is
 * attached, and is then dispatched in arrival order; from then on such calls go to Express,
 * through which Nest answers 404.
 *
 * Shutdown runs in `onModuleDestroy` (the server is a provider of the plugin module), which Nest
 * calls before the modules the plugin module imports (allocators, store): calls in flight finish
 * before etcd is closed.
 */
export class PluginServer {
  private readonly routes = new Map<string, CallHandler>();
  private readonly waiting: [IncomingMessage, ServerResponse][] = [];
  /** Express, once the app is attached. */
  private fallback: CallHandler | undefined;
  /** Set by abandon: why every call is now refused. */
  private refusal: string | undefined;
  private abandoned: Promise<void> | undefined;
  private state: 'loading' | 'serving' | 'closing' | 'closed' = 'loading';
  private inFlight = 0;
  /** The inode of the socket file we created: removeSocket leaves a successor's file alone. */
  private inode = 0n;

  /** Whether dockerd was told to send MACs (GetCapabilities), here or before a restart. */
  readonly macs: MacCapability;

  private constructor(
    readonly path: string,
    private readonly http: Server,
    private readonly logger: LoggerService,
  ) {
    this.macs = MacCapability.beside(path, logger);
    for (const [route, reply] of HANDSHAKE_REPLIES) {
      this.routes.set(route, (_req, res) => {
        if (route === CAPABILITIES_ROUTE) {
          this.macs.answered();
        }
        writeJson(res, 200, reply);
      });
    }
    // Routing is in place before the socket exists: Docker (or a test) may connect the moment
    // the file appears, and a request the server has no listener for is never answered.
    http.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.inFlight++;
      res.once('close', () => this.inFlight--);
      this.dispatch(req, res);
    });
  }

  /** Prepares the path (refusing when another plugin answers on it), listens, restricts it. */
  static async open(path: string, logger: LoggerService): Promise<PluginServer> {
    // Calls may wait on etcd for up to ETCD_WAIT_TIMEOUT (max 3600 s) and Docker never times
    // them out (moby/moby pkg/plugins/client.go), so there is no request timeout.
    const http = createServer({ requestTimeout: 0, headersTimeout: HEADERS_TIMEOUT_MS });
    const server = new PluginServer(path, http, logger);
    server.inode = await listenOnSocket(http, path);
    return server;
  }

  /**
   * Removes the socket file now, if it is still ours (same inode). Synchronous, so that a
   * crashing process can do it on its way out, without closing the server.
   */
  removeFile(): void {
    removeSocket(this.path, this.inode);
  }

  /** Adds an exact POST path to the route table (PluginHttpAdapter, for each Nest route). */
  route(path: string, handler: CallHandler): void {
    this.routes.set(path, handler);
  }

  /**
   * The app has loaded: `fallback` (Express) answers what the route table does not, starting
   * with the calls that waited. Ignored once the socket was abandoned (a stop during start-up).
   */
  attach(fallback: CallHandler): void {
    if (this.refusal !== undefined || this.state !== 'loading') {
      return;
    }
    this.fallback = fallback;
    this.state = 'serving';
    this.logger.log(`serving the plugin API on ${this.path}`, LOG_CONTEXT);
    for (const [req, res] of this.waiting.splice(0)) {
      if (!res.writableEnded && !req.destroyed) {
        this.dispatch(req, res);
      }
    }
  }

  status(): ListenerStatus {
    return this.state === 'serving' && this.http.listening
      ? { ok: true, detail: 'ok' }
      : { ok: false, detail: `not listening on ${this.path} (${this.state})` };
  }

  onModuleDestroy(): Promise<void> {
    return this.close(DRAIN_TIMEOUT_MS);
  }

  /**
   * Stops accepting, waits up to `timeoutMs` for calls in flight, then cuts what is left and
   * removes the socket file. Before the app was attached, abandons the socket instead.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.state === 'loading' || this.abandoned !== undefined) {
      await this.abandon();
      return;
    }
    if (this.state !== 'serving') {
      return;
    }
    this.state = 'closing';
    this.logger.log(`shutting down: no longer accepting calls on ${this.path}`, LOG_CONTEXT);
    // Resolves once every connection the server accepted has ended.
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    if (this.inFlight > 0) {
      this.logger.log(
        `waiting up to ${timeoutMs / 1000} s for ${this.inFlight} call(s) in flight`,
        LOG_CONTEXT,
      );
    }
    // Docker keeps connections alive between calls: close each one as soon as it is idle.
    this.http.closeIdleConnections();
    const sweep = setInterval(() => this.http.closeIdleConnections(), 50);
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
      this.logger.warn(
        `cutting ${this.inFlight} call(s) still in flight after ${timeoutMs} ms`,
        LOG_CONTEXT,
      );
      this.http.closeAllConnections();
      await closed;
    }
    this.removeFile();
    this.state = 'closed';
    this.logger.log('plugin socket closed', LOG_CONTEXT);
  }

  /**
   * For a stop before the app is attached (a signal, a failed start): calls that were waiting
   * get a clean 503 instead of a dropped connection. For `graceMs` the socket keeps accepting and
   * answers every call with that 503, so that a call already on the wire when the stop came
   * (connected, or written on a kept-alive connection, but not yet read) is not reset either;
   * then the server closes and the socket file goes away.
   */
  abandon(reason = 'the plugin is shutting down', graceMs = ABANDON_GRACE_MS): Promise<void> {
    if (this.abandoned === undefined) {
      if (this.state === 'loading') {
        this.logger.log(`shutting down before serving: closing ${this.path}`, LOG_CONTEXT);
      }
      this.refusal = reason;
      for (const [req, res] of this.waiting.splice(0)) {
        this.refuse(req, res);
      }
      this.abandoned = (async () => {
        await sleep(graceMs);
        this.http.close();
        this.http.closeAllConnections();
        this.removeFile();
        this.state = 'closed';
      })();
    }
    return this.abandoned;
  }

  /**
   * Docker's calls are POSTs to a handful of exact paths: those in the route table go straight to
   * their handler, bypassing Express. Express's per-request work (prototype swaps on req and res,
   * URL parsing, walking its layer stack) was a third of the plugin's CPU per RequestAddress
   * under load; dispatching here took RequestAddress at c=16 from 0.65 to 1.12 × raw etcd
   * (libs/store/README.md, "Measured"). The query string is not part of the key, as in Express.
   */
  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    if (this.refusal !== undefined) {
      this.refuse(req, res);
      return;
    }
    const url = req.url ?? '';
    const query = url.indexOf('?');
    const route =
      req.method === 'POST' ? this.routes.get(query < 0 ? url : url.slice(0, query)) : undefined;
    const handler = route ?? this.fallback;
    if (handler === undefined) {
      this.waiting.push([req, res]);
      return;
    }
    try {
      this.logCall(
        req,
        res,
        route === undefined ? 'other' : url.slice(1, query < 0 ? undefined : query),
      );
      if (req.method !== 'POST') {
        // Only the plugin calls (all POST) carry a body: anything else is a 404 from Express,
        // and Node discards whatever body it had once the reply is written.
        this.invoke(handler, req, res);
        return;
      }
      readJsonBody(req, res, (body) => {
        (req as RequestWithBody).body = body;
        this.invoke(handler, req, res);
      });
    } catch (e) {
      this.unanswered(req, res, e); // never an exception out of the server
    }
  }

  private invoke(handler: CallHandler, req: IncomingMessage, res: ServerResponse): void {
    const unanswered = (e?: unknown): void => this.unanswered(req, res, e);
    try {
      // Nest's proxy catches the handler's errors for the exception filter; what escapes it is
      // a bug, answered here as one.
      void Promise.resolve(handler(req, res, unanswered)).catch(unanswered);
    } catch (e) {
      unanswered(e);
    }
  }

  /**
   * One line per call once its reply is written: debug for success, warn with the Err for a
   * 4xx, error for a 5xx. Request bodies are never logged (the reply body at debug already shows
   * what was decided). Each call is counted and timed under `method` (Docker's method name, or
   * `other` for a path outside the route table: labels stay few whatever a client sends).
   */
  private logCall(req: IncomingMessage, res: ServerResponse, method: string): void {
    const logger = this.logger;
    const started = process.hrtime.bigint();
    const elapsed = (): string =>
      `${(Number((process.hrtime.bigint() - started) / 1000n) / 1000).toFixed(1)}ms`;
    const call = `${req.method ?? '?'} ${req.url ?? '?'}`;
    const seconds = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    res.on('close', () => {
      if (!res.writableFinished) {
        METRICS.request(method, 'abandoned', seconds());
        logger.warn(
          event(`${call} abandoned by the client after ${elapsed()}`, method, seconds()),
          CALL_LOG_CONTEXT,
        );
      }
    });
    res.on('finish', () => {
      const status = res.statusCode;
      const took = seconds();
      METRICS.request(method, status < 400 ? 'ok' : status < 500 ? 'rejected' : 'error', took);
      const note = replyNoteOf(res);
      const line = `${call} ${status} ${elapsed()}`;
      if (status >= 500) {
        logger.error(
          event(`${line}: ${note?.err ?? ''}`, method, took, status),
          undefined,
          CALL_LOG_CONTEXT,
        );
      } else if (status >= 400) {
        logger.warn(event(`${line}: ${note?.err ?? ''}`, method, took, status), CALL_LOG_CONTEXT);
      } else {
        logger.debug?.(
          event(`${line} ${note?.body ?? ''}`, method, took, status),
          CALL_LOG_CONTEXT,
        );
      }
    });
  }

  /** A call that nothing answered: a bug, never Docker's fault. */
  private unanswered(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const why =
      err instanceof Error
        ? err.message
        : err === undefined
          ? 'no handler answered'
          : (JSON.stringify(err) ?? typeof err);
    this.logger.error(
      `${req.method ?? '?'} ${req.url ?? '?'}: ${why}`,
      err instanceof Error ? err.stack : undefined,
      CALL_LOG_CONTEXT,
    );
    if (!res.headersSent) {
      writeError(res, 500, `internal error: ${why}`);
    } else if (!res.writableEnded) {
      res.end();
    }
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
}
