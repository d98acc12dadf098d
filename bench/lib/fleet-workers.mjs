// The fleet benchmark's worker processes (fleet-worker.mjs) as seen from the driver: fork, call,
// stop. Every worker is killed when the driver exits, however it exits.
import { fork } from 'node:child_process';
import { join } from 'node:path';

/** @type {Set<import('node:child_process').ChildProcess>} */
const live = new Set();
process.once('exit', () => {
  for (const child of live) {
    child.kill('SIGKILL');
  }
});

/**
 * @typedef {object} FleetWorker
 * @property {number} index
 * @property {number} pid
 * @property {Set<string>} nodes   the hosts it runs
 * @property {any} ready           its first message (memory before any host)
 * @property {(op: string, args?: Record<string, unknown>) => Promise<any>} call
 * @property {() => Promise<void>} stop
 */

/**
 * @param {number} index
 * @param {string[]} [nodeArgs]  more node options (--cpu-prof …)
 * @returns {Promise<FleetWorker>}
 */
export async function startWorker(index, nodeArgs = []) {
  const child = fork(join(import.meta.dirname, 'fleet-worker.mjs'), [], {
    execArgv: ['--expose-gc', ...nodeArgs],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  let seq = 0;
  /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void, op: string }>} */
  const waiting = new Map();
  /** @type {Promise<any>} */
  const ready = new Promise((resolve, reject) => {
    waiting.set(0, { resolve, reject, op: 'start' });
  });
  child.on('message', (/** @type {any} */ msg) => {
    const w = waiting.get(msg.id);
    if (!w) {
      return;
    }
    waiting.delete(msg.id);
    if (msg.error === undefined) {
      w.resolve(msg.result);
    } else {
      w.reject(new Error(`worker ${index} ${w.op}: ${String(msg.error)}`));
    }
  });
  child.once('exit', (code, signal) => {
    live.delete(child);
    for (const w of waiting.values()) {
      w.reject(new Error(`worker ${index} exited (${code ?? signal}) during ${w.op}`));
    }
    waiting.clear();
  });
  return {
    index,
    pid: child.pid ?? 0,
    nodes: new Set(),
    ready: await ready,
    call: (op, args = {}) =>
      new Promise((resolve, reject) => {
        const id = ++seq;
        waiting.set(id, { resolve, reject, op });
        child.send({ id, op, ...args });
      }),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.disconnect();
      await exited;
      clearTimeout(timer);
    },
  };
}
