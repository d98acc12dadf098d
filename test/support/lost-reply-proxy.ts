// A loopback TCP proxy between an etcd client and one etcd member that can lose the reply of one
// gRPC call on purpose: it forwards the client's request, waits for etcd's answer to it and then
// cuts both connections instead of forwarding that answer. The request has reached etcd (and,
// for a transaction, committed); the client only sees a dropped connection and retries.
//
// gRPC runs over HTTP/2 without TLS here, so the proxy reads the frame headers of both directions
// (9 bytes each: length, type, flags, stream id) and reassembles the gRPC messages of the client's
// DATA frames (5-byte prefix: compressed flag, length). Keys and values travel as plain bytes in
// the protobuf, so a request is recognised by what it contains, e.g. "names this key twice" (a
// transaction that compares and writes it) as opposed to once (a plain read).
import { createServer, connect, type Server, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const FRAME_HEADER = 9;
const DATA = 0x0;
const HEADERS = 0x1;
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

/** How often `needle` occurs in `haystack`. */
export function occurrences(haystack: Buffer, needle: Buffer | string): number {
  const n = typeof needle === 'string' ? Buffer.from(needle) : needle;
  let count = 0;
  for (let at = haystack.indexOf(n); at >= 0; at = haystack.indexOf(n, at + n.length)) {
    count++;
  }
  return count;
}

export interface CutPlan {
  /** Picks the request (one gRPC message from the client) whose reply is lost. */
  match: (message: Buffer) => boolean;
  /**
   * Runs once etcd's reply has arrived and is held back, before the connection is cut: the
   * request has been executed by then. The cut waits for it.
   */
  whileHeld?: () => Promise<void>;
}

export interface CutReport {
  /** The HTTP/2 stream of the lost call. */
  stream: number;
}

export interface LostReplyProxy {
  /** `http://127.0.0.1:PORT`, to use as the client's etcd endpoint. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /**
   * Arms a one-shot cut: the reply to the next request that `plan.match` picks is lost. Resolves
   * once the connection was cut; only one cut can be armed at a time.
   */
  loseNextReply(plan: CutPlan): Promise<CutReport>;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

interface Armed {
  plan: CutPlan;
  stream?: number;
  resolve: (report: CutReport) => void;
  reject: (err: unknown) => void;
}

/** Starts the proxy in front of `target` (`http://127.0.0.1:PORT` of one etcd member). */
export async function startLostReplyProxy(target: string): Promise<LostReplyProxy> {
  const upstream = new URL(target);
  const sockets = new Set<Socket>();
  let armed: Armed | undefined;
  let connections = 0;

  const server: Server = createServer((client) => {
    connections++;
    const etcd = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(etcd);
    const fromClient = new FrameReader(true);
    const fromEtcd = new FrameReader(false);
    /** Partial gRPC messages per client stream. */
    const pending = new Map<number, Buffer>();
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
        if (frame.type === RST_STREAM) {
          pending.delete(frame.stream);
          continue;
        }
        if (frame.type !== DATA) {
          continue;
        }
        let bytes = Buffer.concat([pending.get(frame.stream) ?? Buffer.alloc(0), dataOf(frame)]);
        while (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt32BE(1)) {
          const message = bytes.subarray(5, 5 + bytes.readUInt32BE(1));
          bytes = bytes.subarray(5 + message.length);
          if (armed && armed.stream === undefined && armed.plan.match(message)) {
            armed.stream = frame.stream;
          }
        }
        if (bytes.length > 0 && (frame.flags & FLAG_END_STREAM) === 0) {
          pending.set(frame.stream, bytes);
        } else {
          pending.delete(frame.stream);
        }
      }
    });

    etcd.on('data', (chunk: Buffer) => {
      if (cutting) {
        return;
      }
      const forward: Buffer[] = [];
      for (const frame of fromEtcd.push(chunk)) {
        const plan = armed;
        if (
          plan?.stream !== undefined &&
          frame.stream === plan.stream &&
          (frame.type === HEADERS || frame.type === DATA)
        ) {
          // etcd answered the chosen request: keep the answer, then cut.
          cutting = true;
          armed = undefined;
          client.write(Buffer.concat(forward));
          const report: CutReport = { stream: plan.stream };
          void (async () => {
            try {
              await plan.plan.whileHeld?.();
              dropBoth();
              plan.resolve(report);
            } catch (e) {
              dropBoth();
              plan.reject(e);
            }
          })();
          return;
        }
        forward.push(frame.raw);
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
    loseNextReply(plan) {
      if (armed) {
        return Promise.reject(new Error('a cut is already armed'));
      }
      return new Promise<CutReport>((resolve, reject) => {
        armed = { plan, resolve, reject };
      });
    },
    async close() {
      armed?.reject(new Error('proxy closed before the armed cut happened'));
      armed = undefined;
      for (const s of sockets) {
        s.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
