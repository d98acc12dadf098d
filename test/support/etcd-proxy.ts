// A loopback TCP proxy between an etcd client and one plain-HTTP etcd member that reads the gRPC
// traffic it forwards, so a test can cut the connection at a chosen message, or rewrite one: the
// base of lost-reply-proxy.ts (a reply lost after its request committed), watch-cut-proxy.ts (a
// watch stream cut right after etcd created the watch) and version-proxy.ts (an older etcd).
//
// gRPC runs over HTTP/2 without TLS here, so the proxy reads the frame headers of both directions
// (9 bytes each: length, type, flags, stream id) and reassembles the gRPC messages of the DATA
// frames (5-byte prefix: compressed flag, length) per HTTP/2 stream. Keys and values travel as
// plain bytes in the protobuf, so a message can be recognised by what it contains.
import { createServer, connect, type Server, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const FRAME_HEADER = 9;
export const DATA = 0x0;
export const HEADERS = 0x1;
const RST_STREAM = 0x3;
const FLAG_END_STREAM = 0x1;
const FLAG_PADDED = 0x8;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
  /** The whole frame as it was on the wire. */
  raw: Buffer;
}

/** Splits a byte stream into HTTP/2 frames (after the client preface, when `client`). */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);
  private prefaceLeft: number;

  constructor(client: boolean) {
    this.prefaceLeft = client ? PREFACE.length : 0;
  }

  /** Complete frames found so far; the preface (client side) comes back as a pseudo frame. */
  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, this.buffered.length);
      const raw = this.buffered.subarray(0, n);
      this.buffered = this.buffered.subarray(n);
      this.prefaceLeft -= n;
      frames.push({ type: -1, flags: 0, stream: 0, payload: raw, raw });
    }
    while (this.buffered.length >= FRAME_HEADER) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < FRAME_HEADER + length) {
        break;
      }
      const raw = this.buffered.subarray(0, FRAME_HEADER + length);
      this.buffered = this.buffered.subarray(FRAME_HEADER + length);
      frames.push({
        type: raw[3] ?? 0,
        flags: raw[4] ?? 0,
        stream: raw.readUInt32BE(5) & 0x7fffffff,
        payload: raw.subarray(FRAME_HEADER),
        raw,
      });
    }
    return frames;
  }
}

/** The application data of a DATA frame (without padding). */
function dataOf(frame: Frame): Buffer {
  if ((frame.flags & FLAG_PADDED) === 0) {
    return frame.payload;
  }
  const pad = frame.payload[0] ?? 0;
  return frame.payload.subarray(1, frame.payload.length - pad);
}

/** Reassembles the gRPC messages of one direction's DATA frames, per HTTP/2 stream. */
class MessageReader {
  /** Partial gRPC messages per stream. */
  private readonly pending = new Map<number, Buffer>();

  /** The gRPC messages `frame` completes (none for a frame that is not DATA). */
  push(frame: Frame): Buffer[] {
    if (frame.type === RST_STREAM) {
      this.pending.delete(frame.stream);
      return [];
    }
    if (frame.type !== DATA) {
      return [];
    }
    let bytes = Buffer.concat([this.pending.get(frame.stream) ?? Buffer.alloc(0), dataOf(frame)]);
    const messages: Buffer[] = [];
    while (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt32BE(1)) {
      const message = bytes.subarray(5, 5 + bytes.readUInt32BE(1));
      bytes = bytes.subarray(5 + message.length);
      messages.push(message);
    }
    if (bytes.length > 0 && (frame.flags & FLAG_END_STREAM) === 0) {
      this.pending.set(frame.stream, bytes);
    } else {
      this.pending.delete(frame.stream);
    }
    return messages;
  }
}

/** A DATA frame on `stream` that carries exactly one gRPC message. */
export function dataFrame(stream: number, message: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER + 5);
  header.writeUIntBE(5 + message.length, 0, 3);
  header[3] = DATA;
  header[4] = 0;
  header.writeUInt32BE(stream, 5);
  header[9] = 0; // not compressed
  header.writeUInt32BE(message.length, 10);
  return Buffer.concat([header, message]);
}

/** How often `needle` occurs in `haystack`. */
export function occurrences(haystack: Buffer, needle: Buffer | string): number {
  const n = typeof needle === 'string' ? Buffer.from(needle) : needle;
  let count = 0;
  for (let at = haystack.indexOf(n); at >= 0; at = haystack.indexOf(n, at + n.length)) {
    count++;
  }
  return count;
}

/** What the proxy does with one frame etcd sent. */
export type ReplyVerdict =
  | 'forward'
  /** Forward these bytes in place of the frame (of the same length: the framing stays valid). */
  | { rewrite: Buffer }
  | {
      /** Cut this connection: before this frame (it is lost), or after it (it arrives). */
      cut: 'before' | 'after';
      /** With 'after': the bytes to forward in place of the frame. */
      instead?: Buffer;
      /** Runs while nothing more is forwarded, before the connection is cut. */
      hold?: () => Promise<void>;
      /** Runs once the connection is cut, with what `hold` threw. */
      done?: (err?: unknown) => void;
    };

export interface ProxyHooks {
  /** Each gRPC message the client sends, with its HTTP/2 stream and connection number. */
  request?(message: Buffer, stream: number, connection: number): void;
  /** Each frame etcd sends, with the gRPC messages it completes: what to do with it. */
  reply?(frame: Frame, messages: Buffer[], connection: number): ReplyVerdict;
}

export interface EtcdProxy {
  /** `http://127.0.0.1:PORT`, to use as the client's etcd endpoint. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Cuts every open connection now. */
  cutAll(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Starts a proxy in front of `target` (`http://127.0.0.1:PORT` of one etcd member). */
export async function startEtcdProxy(target: string, hooks: ProxyHooks): Promise<EtcdProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let connections = 0;

  const server: Server = createServer((client) => {
    const connection = ++connections;
    const etcd = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(etcd);
    const fromClient = new FrameReader(true);
    const fromEtcd = new FrameReader(false);
    const requests = new MessageReader();
    const replies = new MessageReader();
    let cutting = false;
    const dropBoth = (): void => {
      client.destroy();
      etcd.destroy();
    };
    client.on('close', () => {
      sockets.delete(client);
      etcd.destroy();
    });
    etcd.on('close', () => {
      sockets.delete(etcd);
      client.destroy();
    });
    client.on('error', () => undefined);
    etcd.on('error', () => undefined);

    client.on('data', (chunk: Buffer) => {
      if (cutting) {
        return;
      }
      etcd.write(chunk);
      for (const frame of fromClient.push(chunk)) {
        for (const message of requests.push(frame)) {
          hooks.request?.(message, frame.stream, connection);
        }
      }
    });

    etcd.on('data', (chunk: Buffer) => {
      if (cutting) {
        return;
      }
      const forward: Buffer[] = [];
      for (const frame of fromEtcd.push(chunk)) {
        const verdict = hooks.reply?.(frame, replies.push(frame), connection) ?? 'forward';
        if (verdict === 'forward') {
          forward.push(frame.raw);
          continue;
        }
        if ('rewrite' in verdict) {
          forward.push(verdict.rewrite);
          continue;
        }
        cutting = true;
        if (verdict.cut === 'after') {
          forward.push(verdict.instead ?? frame.raw);
        }
        client.write(Buffer.concat(forward));
        void (async () => {
          let failure: unknown;
          try {
            await verdict.hold?.();
          } catch (e) {
            failure = e;
          }
          dropBoth();
          verdict.done?.(failure);
        })();
        return;
      }
      if (forward.length > 0) {
        client.write(Buffer.concat(forward));
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('proxy has no TCP address');
  }

  return {
    url: `http://127.0.0.1:${address.port}`,
    get connections() {
      return connections;
    },
    cutAll() {
      for (const s of sockets) {
        s.destroy();
      }
    },
    async close() {
      for (const s of sockets) {
        s.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
