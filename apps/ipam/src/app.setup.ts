import type { INestApplication, LoggerService } from '@nestjs/common';

import { accessLog } from './http/access-log.js';
import { jsonBodyReader } from './http/body-reader.js';
import { JsonExpressAdapter } from './http/json-express-adapter.js';

/**
 * Options for `NestFactory.create` / `createNestApplication`: the plugin's own body reader
 * replaces Nest's parsers, and a failed bootstrap rejects instead of aborting the process.
 */
export const PLUGIN_APP_OPTIONS = { bodyParser: false, abortOnError: false } as const;

export function createPluginAdapter(): JsonExpressAdapter {
  return new JsonExpressAdapter();
}

/** The bits of the Express app this file touches (Nest types its instance as `any`). */
interface ExpressApp {
  disable(setting: string): void;
  router?: { caseSensitive?: boolean; strict?: boolean };
}

/**
 * HTTP-level setup shared by main and the tests; call before `listen()`/`init()`, which register
 * the routes. Method paths match exactly (spec A.5): the Express router already exists by now
 * (Nest's adapter mounts a middleware in its constructor), so its flags are set on it directly;
 * they apply to every route added afterwards.
 */
export function configurePluginApp(app: INestApplication, logger: LoggerService): void {
  const adapter = pluginAdapterOf(app);
  const express: ExpressApp = adapter.getInstance();
  express.disable('x-powered-by');
  if (express.router !== undefined) {
    express.router.caseSensitive = true;
    express.router.strict = true;
  }
  adapter.useCallMiddleware(accessLog(logger), jsonBodyReader());
}

/** The app's adapter, which must be the plugin's own (createPluginAdapter). */
export function pluginAdapterOf(app: INestApplication): JsonExpressAdapter {
  const adapter = app.getHttpAdapter();
  if (!(adapter instanceof JsonExpressAdapter)) {
    throw new Error('the plugin app must be created with createPluginAdapter()');
  }
  return adapter;
}
