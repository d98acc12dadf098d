import type { IncomingMessage, ServerResponse } from 'node:http';

import { isJsonObject } from '../json-object.js';

/**
 * The one content type every reply carries, success or error. Exact, without `; charset=utf-8`:
 * the Kontena agent compares the header verbatim (kontena/kontena
 * agent/lib/kontena/network_adapters/ipam_client.rb), and Express's `res.json()` would append
 * the charset, so replies are written with `res.end()` here.
 */
export const JSON_CONTENT_TYPE = 'application/json';

/**
 * `{"Err": msg, "Error": msg}`: dockerd reads `Err` (moby/moby pkg/plugins/client.go), the
 * Kontena agent reads `Error`.
 */
export interface ErrorBody {
  Err: string;
  Error: string;
}

export function errorBody(message: string): ErrorBody {
  return { Err: message, Error: message };
}

/** What the access log reports for a reply: its error message and the serialized body. */
interface ReplyNote {
  body: string;
  err?: string;
}

const notes = new WeakMap<ServerResponse, ReplyNote>();

/** The note left by {@link writeJson}/{@link writeError}, for the access log. */
export function replyNoteOf(res: ServerResponse): ReplyNote | undefined {
  return notes.get(res);
}

export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  // `undefined` (a handler without a return value) still has to be a JSON object for Docker:
  // an empty body on a 200 is "error reading plugin resp".
  const text = JSON.stringify(body ?? {});
  notes.set(res, { ...notes.get(res), body: text });
  if (res.headersSent) {
    // Too late to change status or headers (a failure after the reply started): only make sure
    // the exchange ends instead of hanging the client.
    if (!res.writableEnded) {
      res.end();
    }
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

export function writeError(res: ServerResponse, status: number, message: string): void {
  notes.set(res, { body: '', err: message });
  writeJson(res, status, errorBody(message));
}

/** A body over 1 MiB is refused with 413. */
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

export interface BodyLimits {
  limit?: number;
  timeoutMs?: number;
}

/**
 * Reads a call's body as a JSON object, whatever its Content-Type (dockerd sends none: moby/moby
 * pkg/plugins/transport/http.go), and hands it to `onBody`; an empty body is `{}` (the handshake
 * calls have none). Malformed, non-object, oversized and stalled bodies are answered here, in
 * the plugin's error shape (400, 413, 408), and `onBody` is not called.
 */
export function readJsonBody(
  req: IncomingMessage,
  res: ServerResponse,
  onBody: (body: Record<string, unknown>) => void,
  { limit = MAX_BODY_BYTES, timeoutMs = BODY_TIMEOUT_MS }: BodyLimits = {},
): void {
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
    onBody(parsed);
  });
  // The client went away mid-upload: nobody is left to answer.
  const stop = (): void => clearTimeout(timer);
  req.on('error', stop);
  req.on('close', stop);

  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    tooLarge();
  }
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

function describeJsonType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
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
