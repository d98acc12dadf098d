// A loopback TCP proxy between an etcd client and one etcd member that cuts a watch stream right
// after etcd confirmed a watch of one key prefix ("created"), before anything else of that
// stream arrives. A watch that starts at an older revision gets the changes since then after the
// "created" reply: cut there, the client sees a dropped connection and, as etcd3 1.1 does,
// watches again from the revision in the "created" reply's header, past those changes.
//
// Messages are recognised by their protobuf fields (etcd's rpc.proto): a WatchRequest whose
// create_request (1) names a key (1) under the prefix, and a WatchResponse with created (3) set.
import { dataFrame, startEtcdProxy, type EtcdProxy } from './etcd-proxy.js';

type Fields = Map<number, (bigint | Buffer)[]>;

/** The top-level fields of a protobuf message, or undefined when the bytes are not one. */
function fieldsOf(message: Buffer): Fields | undefined {
  const fields: Fields = new Map();
  let at = 0;
  const varint = (): bigint | undefined => {
    let value = 0n;
    for (let shift = 0n; at < message.length && shift < 70n; shift += 7n) {
      const byte = message[at++] ?? 0;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        return value;
      }
    }
    return undefined;
  };
  while (at < message.length) {
    const tag = varint();
    if (tag === undefined || tag >> 3n === 0n) {
      return undefined;
    }
    let value: bigint | Buffer | undefined;
    switch (Number(tag & 7n)) {
      case 0:
        value = varint();
        break;
      case 2: {
        const length = varint();
        if (length === undefined || at + Number(length) > message.length) {
          return undefined;
        }
        value = message.subarray(at, at + Number(length));
        at += Number(length);
        break;
      }
      case 1:
      case 5: {
        const width = (tag & 7n) === 1n ? 8 : 4;
        value = message.subarray(at, at + width);
        at += width;
        break;
      }
      default:
        return undefined;
    }
    if (value === undefined || at > message.length) {
      return undefined;
    }
    const number = Number(tag >> 3n);
    fields.set(number, [...(fields.get(number) ?? []), value]);
  }
  return fields;
}

const bytesField = (fields: Fields | undefined, n: number): Buffer | undefined => {
  const value = fields?.get(n)?.[0];
  return Buffer.isBuffer(value) ? value : undefined;
};
const numberField = (fields: Fields | undefined, n: number): bigint | undefined => {
  const value = fields?.get(n)?.[0];
  return typeof value === 'bigint' ? value : undefined;
};

export interface WatchCutProxy {
  /** `http://127.0.0.1:PORT`, to use as the client's etcd endpoint. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** While on, every watch of the prefix is cut right after etcd created it. */
  cutWatches(on: boolean): void;
  /** Watches of the prefix cut right after they were created. */
  readonly watchesCut: number;
  /** Watches of the prefix created and left running. */
  readonly watchesRunning: number;
  /** Watch responses with changes under the prefix forwarded to the client. */
  readonly changesForwarded: number;
  /** Cuts every open connection now. */
  cutAll(): void;
  close(): Promise<void>;
}

/** Starts the proxy in front of `target` for watches of keys under `keyPrefix`. */
export async function startWatchCutProxy(
  target: string,
  keyPrefix: string,
): Promise<WatchCutProxy> {
  const prefix = Buffer.from(keyPrefix);
  /** `connection/stream` of watch streams with a create request of the prefix unanswered */
  const creating = new Map<string, number>();
  /** watch ids of the prefix's running watches, per connection */
  const running = new Map<number, Set<bigint>>();
  let cutting = false;
  let watchesCut = 0;
  let watchesRunning = 0;
  let changesForwarded = 0;

  const proxy: EtcdProxy = await startEtcdProxy(target, {
    request(message, stream, connection) {
      const create = bytesField(fieldsOf(message), 1);
      const key = create && bytesField(fieldsOf(create), 1);
      if (key?.subarray(0, prefix.length).equals(prefix)) {
        const id = `${connection}/${stream}`;
        creating.set(id, (creating.get(id) ?? 0) + 1);
      }
    },
    reply(frame, messages, connection) {
      const id = `${connection}/${frame.stream}`;
      for (const message of messages) {
        const fields = fieldsOf(message);
        const watchId = numberField(fields, 2) ?? 0n;
        if (numberField(fields, 3) === 1n && (creating.get(id) ?? 0) > 0) {
          creating.set(id, (creating.get(id) ?? 1) - 1);
          if (cutting) {
            watchesCut++;
            return { cut: 'after', instead: dataFrame(frame.stream, message) };
          }
          watchesRunning++;
          running.set(connection, (running.get(connection) ?? new Set()).add(watchId));
        } else if (fields?.has(11) && running.get(connection)?.has(watchId)) {
          changesForwarded++;
        }
      }
      return 'forward';
    },
  });

  return {
    url: proxy.url,
    get connections() {
      return proxy.connections;
    },
    cutWatches(on) {
      cutting = on;
    },
    get watchesCut() {
      return watchesCut;
    },
    get watchesRunning() {
      return watchesRunning;
    },
    get changesForwarded() {
      return changesForwarded;
    },
    cutAll: () => proxy.cutAll(),
    close: () => proxy.close(),
  };
}
