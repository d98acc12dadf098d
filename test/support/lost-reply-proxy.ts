// A loopback TCP proxy between an etcd client and one etcd member that can lose the reply of one
// gRPC call on purpose: it forwards the client's request, waits for etcd's answer to it and then
// cuts both connections instead of forwarding that answer. The request has reached etcd (and,
// for a transaction, committed); the client only sees a dropped connection and retries.
//
// A request is recognised by what its message contains (etcd-proxy.ts), e.g. "names this key
// twice" (a transaction that compares and writes it) as opposed to once (a plain read).
import { DATA, HEADERS, startEtcdProxy } from './etcd-proxy.js';

export { occurrences } from './etcd-proxy.js';

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
  connection?: number;
  resolve: (report: CutReport) => void;
  reject: (err: unknown) => void;
}

/** Starts the proxy in front of `target` (`http://127.0.0.1:PORT` of one etcd member). */
export async function startLostReplyProxy(target: string): Promise<LostReplyProxy> {
  let armed: Armed | undefined;
  const proxy = await startEtcdProxy(target, {
    request(message, stream, connection) {
      if (armed && armed.stream === undefined && armed.plan.match(message)) {
        armed.stream = stream;
        armed.connection = connection;
      }
    },
    reply(frame, _messages, connection) {
      const plan = armed;
      if (
        plan?.stream === undefined ||
        frame.stream !== plan.stream ||
        connection !== plan.connection ||
        (frame.type !== HEADERS && frame.type !== DATA)
      ) {
        return 'forward';
      }
      // etcd answered the chosen request: keep the answer, then cut.
      armed = undefined;
      const report: CutReport = { stream: plan.stream };
      return {
        cut: 'before',
        hold: async () => plan.plan.whileHeld?.(),
        done: (err) => (err === undefined ? plan.resolve(report) : plan.reject(err)),
      };
    },
  });

  return {
    url: proxy.url,
    get connections() {
      return proxy.connections;
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
      await proxy.close();
    },
  };
}
