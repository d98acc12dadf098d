import type { ServerResponse } from 'node:http';

import { ExpressAdapter } from '@nestjs/platform-express';

import { writeJson } from './json-reply.js';

/**
 * Express's `res.json()` sends `Content-Type: application/json; charset=utf-8`; the plugin's
 * replies must carry exactly `application/json` (spec 1.2, A.5). Every handler returns a plain
 * object, so Nest's reply step is replaced by one that serializes it with the exact header.
 */
export class JsonExpressAdapter extends ExpressAdapter {
  override reply(response: ServerResponse, body: unknown, statusCode?: number): void {
    writeJson(response, statusCode ?? response.statusCode, body);
  }
}
