import type { IncomingMessage, ServerResponse } from 'node:http';

import { isJsonObject } from '../json-object.js';
import { writeError } from './json-reply.js';

/** Spec 1.2: a body over 1 MiB is refused with 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * After a 413 the rest of an oversized body is read and thrown away (so the client can finish
 * writing and read the reply) up to this many bytes; past it the connection is cut.
 */
const MAX_DRAIN_BYTES = 16 * MAX_BODY_BYTES;

/**
 * A slow client gets this long to deliver its body. Only the upload is bounded: the call itself
 * may legitimately wait on etcd for up to ETCD_WAIT_TIMEOUT, so the server has no request timeout.
 */
export const BODY_TIMEOUT_MS = 30_000;

/**
 * Docker's bodies nest three levels deep. Far deeper nesting (thousands of `[` fit in 1 MiB) is
 * refused here: the validators walk bodies recursively and would overflow the stack (a 500).
 */
export const MAX_BODY_DEPTH = 32;

export interface BodyReaderOptions {
  limit?: number;
  timeoutMs?: number;
}

type Next = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

/** The request as Nest's `@Body()` sees it: Express 5 keeps the parsed body in `req.body`. */
interface RequestWithBody extends IncomingMessage {
  body?: unknown;
}

function describeJsonType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  return `a ${typeof value}`;
}

/**
 * Parses the body of every POST as a JSON object, whatever its Content-Type: Docker sends none
 * (spec A.1), and Express's own parsers skip a request without one. An empty body is `{}` (the
 * handshake calls have none). Replaces Nest's default body parser (`bodyParser: false`), and
 * answers malformed, non-object and oversized bodies itself in the plugin's JSON error shape,
 * because errors raised in plain Express middleware never reach Nest's exception filters.
 */
export function jsonBodyReader(options: BodyReaderOptions = {}): Middleware {
  const limit = options.limit ?? MAX_BODY_BYTES;
  const timeoutMs = options.timeoutMs ?? BODY_TIMEOUT_MS;

  return (req, res, next) => {
    // Only the plugin calls (all POST) carry a body; anything else goes on to the router, which
    // answers 404, and Node discards whatever body it had once the reply is written.
    if (req.method !== 'POST') {
      next();
      return;
    }

    const chunks: Buffer[] = [];
    let received = 0;
    let replied = false;

    // Bounds the upload, including the discarded rest of an oversized body.
    const timer = setTimeout(() => {
      if (replied) {
        req.socket.destroy();
        return;
      }
      replied = true;
      res.setHeader('Connection', 'close');
      writeError(res, 408, `request body not received within ${timeoutMs / 1000} s`);
    }, timeoutMs);
    timer.unref();

    const tooLarge = (): void => {
      replied = true;
      chunks.length = 0;
      writeError(res, 413, `request body too large: the limit is ${limit} bytes`);
    };

    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (replied) {
        // Discarding the rest so the client can finish its upload and read the reply.
        if (received > MAX_DRAIN_BYTES) {
          req.socket.destroy();
        }
        return;
      }
      if (received > limit) {
        tooLarge();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(timer);
      if (replied) {
        return;
      }
      replied = true;
      const parsed = parseObject(Buffer.concat(chunks));
      if (typeof parsed === 'string') {
        writeError(res, 400, parsed);
        return;
      }
      (req as RequestWithBody).body = parsed;
      next();
    });
    // The client went away mid-upload: nobody is left to answer.
    const stop = (): void => clearTimeout(timer);
    req.on('error', stop);
    req.on('close', stop);

    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      tooLarge();
    }
  };
}

/** The parsed object, or the error message for a 400. */
export function parseObject(raw: Buffer): Record<string, unknown> | string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return 'invalid request body: not valid UTF-8';
  }
  if (text.trim() === '') {
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `invalid request body: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (!isJsonObject(value)) {
    return `invalid request body: expected a JSON object, got ${describeJsonType(value)}`;
  }
  if (nestedDeeper(value, MAX_BODY_DEPTH)) {
    return `invalid request body: nested deeper than ${MAX_BODY_DEPTH} levels`;
  }
  return value;
}

/** True when `value` has more than `levels` levels of arrays and objects (recursion bounded). */
function nestedDeeper(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  if (levels === 0) {
    return true;
  }
  return Object.values(value).some((child) => nestedDeeper(child, levels - 1));
}
