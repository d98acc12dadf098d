import { Logger } from '@nestjs/common';
import type { RequestHandler } from '@nestjs/common/interfaces/index.js';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

import type { Middleware } from './body-reader.js';
import { writeError, writeJson } from './json-reply.js';

/** What Nest registers for a route: its router proxy (guards, pipes, handler, filters). */
type RouteHandler = RequestHandler<IncomingMessage, ServerResponse>;

function isHandler(value: unknown): value is RequestHandler {
  return typeof value === 'function';
}

/**
 * Nest's Express adapter with two changes for the plugin socket.
 *
 * Replies: Express's `res.json()` sends `Content-Type: application/json; charset=utf-8`; the
 * plugin's replies must carry exactly `application/json` (spec 1.2, A.5). Every handler returns a
 * plain object, so Nest's reply step is replaced by one that serializes it with the exact header.
 *
 * Dispatch: Docker's calls are POSTs to a handful of exact paths. {@link handle} finds the
 * route's Nest handler in a table keyed by the exact path, runs the call middleware (access log,
 * body reader) and the handler — Nest's pipeline as Express would run it: validation pipe,
 * controller, exception filter. Everything else (unknown methods, other verbs, query strings, a
 * trailing slash) goes through Express as before, which answers 404 through Nest. Express's
 * per-request work (prototype swaps on req/res, URL parsing, walking the layer stack) cost about
 * a third of the plugin's CPU per RequestAddress under load (libs/store/README.md, "Measured").
 */
export class JsonExpressAdapter extends ExpressAdapter {
  private readonly log = new Logger('PluginHttp');
  private readonly postRoutes = new Map<string, RouteHandler>();
  private readonly callMiddleware: Middleware[] = [];

  override reply(response: ServerResponse, body: unknown, statusCode?: number): void {
    writeJson(response, statusCode ?? response.statusCode, body);
  }

  /** `@HttpCode`: on the plain Node response of {@link handle} too (Express adds `res.status`). */
  override status(response: ServerResponse, statusCode: number): void {
    response.statusCode = statusCode;
  }

  /** Nest registers each `@Post()` route here: it is kept for {@link handle} as well. */
  override post(handler: RequestHandler): unknown;
  override post(path: unknown, handler: RequestHandler): unknown;
  override post(pathOrHandler: unknown, handler?: RequestHandler): unknown {
    if (handler === undefined) {
      return isHandler(pathOrHandler) ? super.post(pathOrHandler) : undefined;
    }
    if (typeof pathOrHandler === 'string') {
      this.postRoutes.set(pathOrHandler, handler);
    }
    return super.post(pathOrHandler, handler);
  }

  /**
   * Middleware that every plugin call passes before its handler, in this order, on both paths.
   * Call before the routes are registered (`app.init()`), like `app.use`.
   */
  useCallMiddleware(...middleware: Middleware[]): void {
    for (const m of middleware) {
      this.callMiddleware.push(m);
      this.use(m);
    }
  }

  /** The request listener of the plugin socket. */
  readonly handle: RequestListener = (req, res) => {
    const handler = req.method === 'POST' ? this.postRoutes.get(req.url ?? '') : undefined;
    if (handler === undefined) {
      this.getInstance<RequestListener>()(req, res);
      return;
    }
    const step = (i: number) => (err?: unknown) => {
      if (err !== undefined) {
        this.unanswered(req, res, err);
      } else if (i < this.callMiddleware.length) {
        try {
          this.callMiddleware[i]!(req, res, step(i + 1));
        } catch (e) {
          this.unanswered(req, res, e); // as Express would: never an exception out of the server
        }
      } else {
        // Nest's proxy catches the handler's errors for the exception filter; `next` is only
        // reached if a handler passes the call on, which none of ours does.
        void Promise.resolve(
          handler(req, res, (e?: unknown) => this.unanswered(req, res, e)),
        ).catch((e: unknown) => this.unanswered(req, res, e));
      }
    };
    step(0)();
  };

  /** A call that nothing answered: a bug, never Docker's fault. */
  private unanswered(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const why =
      err instanceof Error
        ? err.message
        : err === undefined
          ? 'no handler answered'
          : (JSON.stringify(err) ?? typeof err);
    this.log.error(
      `${req.method ?? '?'} ${req.url ?? '?'}: ${why}`,
      err instanceof Error ? err.stack : undefined,
    );
    if (!res.headersSent) {
      writeError(res, 500, `internal error: ${why}`);
    } else if (!res.writableEnded) {
      res.end();
    }
  }
}
