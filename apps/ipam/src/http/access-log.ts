import type { LoggerService } from '@nestjs/common';

import type { Middleware } from './body-reader.js';
import { replyNoteOf } from './json-reply.js';

/**
 * One line per plugin call once its reply is written: debug for success, warn with the Err for
 * a 4xx, error for a 5xx. Request bodies are never logged (they are at most debugging aids, and
 * the reply body at debug already shows what was decided).
 */
export function accessLog(logger: LoggerService, context = 'PluginCall'): Middleware {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const elapsed = (): string =>
      `${(Number((process.hrtime.bigint() - started) / 1000n) / 1000).toFixed(1)}ms`;
    const call = `${req.method ?? '?'} ${req.url ?? '?'}`;
    res.on('close', () => {
      if (!res.writableFinished) {
        logger.warn(`${call} abandoned by the client after ${elapsed()}`, context);
      }
    });
    res.on('finish', () => {
      const note = replyNoteOf(res);
      const line = `${call} ${res.statusCode} ${elapsed()}`;
      if (res.statusCode >= 500) {
        logger.error(`${line}: ${note?.err ?? ''}`, undefined, context);
      } else if (res.statusCode >= 400) {
        logger.warn(`${line}: ${note?.err ?? ''}`, context);
      } else {
        logger.debug?.(`${line} ${note?.body ?? ''}`, context);
      }
    });
    next();
  };
}
