import type { ServerResponse } from 'node:http';

/**
 * The one content type every reply carries, success or error. Exact, without `; charset=utf-8`:
 * the Kontena agent compares the header verbatim (spec A.1, A.5), and Express's `res.json()`
 * / `res.send(string)` would append the charset, so replies are written with `res.end()` here.
 */
export const JSON_CONTENT_TYPE = 'application/json';

/** `{"Err": msg, "Error": msg}`: Docker reads `Err`, the Kontena agent reads `Error` (spec A.1). */
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
