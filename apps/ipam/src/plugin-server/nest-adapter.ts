import type { INestApplication } from '@nestjs/common';
import type { RequestHandler } from '@nestjs/common/interfaces/index.js';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { ServerResponse } from 'node:http';

import { writeJson } from './json-wire.js';
import type { CallHandler, PluginServer } from './plugin-server.js';

/**
 * Options for `NestFactory.create` / `createNestApplication`: the plugin server reads bodies
 * itself (readJsonBody) instead of Nest's parsers, and a failed bootstrap rejects instead of
 * aborting the process.
 */
export const PLUGIN_APP_OPTIONS = { bodyParser: false, abortOnError: false } as const;

/** The bits of the Express app this file touches (Nest types its instance as `any`). */
interface ExpressApp {
  disable(setting: string): void;
  router?: { caseSensitive?: boolean; strict?: boolean };
}

function isHandler(value: unknown): value is RequestHandler {
  return typeof value === 'function';
}

/**
 * Nest's Express adapter, fitted to the plugin server.
 *
 * Routes: every POST route Nest registers also goes into the server's route table, so that the
 * server hands Docker's exact paths straight to Nest's handlers (see PluginServer's dispatch).
 * Express answers the rest, where method paths match exactly: case-sensitive, no trailing slash.
 *
 * Replies: Express's `res.json()` sends `Content-Type: application/json; charset=utf-8`; the
 * plugin's replies carry exactly `application/json` (see JSON_CONTENT_TYPE). Every handler
 * returns a plain object, so Nest's reply step is replaced by one that serializes it with the
 * exact header.
 */
export class PluginHttpAdapter extends ExpressAdapter {
  constructor(private readonly pluginServer: PluginServer) {
    super();
    const express: ExpressApp = this.getInstance();
    express.disable('x-powered-by');
    // The router exists already (the adapter mounted a middleware in its constructor): its flags
    // apply to every route added afterwards.
    if (express.router !== undefined) {
      express.router.caseSensitive = true;
      express.router.strict = true;
    }
  }

  override reply(response: ServerResponse, body: unknown, statusCode?: number): void {
    writeJson(response, statusCode ?? response.statusCode, body);
  }

  /** `@HttpCode`: on the plain Node response of a direct dispatch too (Express adds `res.status`). */
  override status(response: ServerResponse, statusCode: number): void {
    response.statusCode = statusCode;
  }

  override post(handler: RequestHandler): unknown;
  override post(path: unknown, handler: RequestHandler): unknown;
  override post(pathOrHandler: unknown, handler?: RequestHandler): unknown {
    if (handler === undefined) {
      return isHandler(pathOrHandler) ? super.post(pathOrHandler) : undefined;
    }
    if (typeof pathOrHandler === 'string') {
      this.pluginServer.route(pathOrHandler, handler as CallHandler);
    }
    return super.post(pathOrHandler, handler);
  }
}

/**
 * Initialises `app` (which registers its routes with the server through the adapter) and serves
 * the socket's calls with it, starting with those that waited for it.
 */
export async function servePluginApp(app: INestApplication, server: PluginServer): Promise<void> {
  await app.init();
  const express: CallHandler = app.getHttpAdapter().getInstance();
  server.attach(express);
}
