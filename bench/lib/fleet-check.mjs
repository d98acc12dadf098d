// The end of every fleet run: the store's consistency check (`kontena-ipam-cleanup --check`'s
// checkStore, built) over one snapshot, and the fleet's own view held against etcd's: every
// address a simulated container holds is in etcd, owned by its host, held once; every endpoint
// address of the fleet's hosts in etcd is held by a container (none leaked).
import { checkStore } from '../../dist/apps/cleanup/src/check.js';
import { callOptions } from './etcd.mjs';

/**
 * The first key after every key that starts with `prefix`.
 * @param {Buffer} prefix
 */
function prefixEnd(prefix) {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/**
 * Every key under `root` with its value, keys relative to it, read in pages all pinned to the
 * first page's revision (one consistent snapshot, as the store's `snapshot` reads it).
 * @param {import('etcd3').Etcd3} client
 * @param {string} root  ETCD_PREFIX without the trailing slash
 * @returns {Promise<{ entries: { key: string, value: string }[], revision: string }>}
 */
export async function readSnapshot(client, root) {
  const start = Buffer.from(`${root}/`);
  const end = prefixEnd(start);
  /** @type {{ key: string, value: string }[]} */
  const entries = [];
  let from = start;
  /** @type {string | undefined} */
  let revision;
  for (;;) {
    const res = await client.kv.range(
      { key: from, range_end: end, limit: 5_000, revision },
      callOptions(),
    );
    revision ??= res.header.revision;
    for (const kv of res.kvs) {
      entries.push({ key: kv.key.toString().slice(start.length), value: kv.value.toString() });
    }
    const last = res.kvs[res.kvs.length - 1];
    if (!res.more || !last) {
      return { entries, revision };
    }
    from = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

/**
 * @param {{ entries: { key: string, value: string }[], held: [string, string, string][],
 *   hosts: Set<string> }} input  held: [poolId, ip, node] of every simulated container
 */
export function verifyFleet(input) {
  const check = checkStore(input.entries);
  /** @type {string[]} */
  const problems = check.violations.map((v) => `--check violation ${v.kind}: ${v.message}`);

  /** @type {Map<string, { node: string, type: string }>} */
  const stored = new Map();
  for (const { key, value } of input.entries) {
    const m = /^addresses\/([^/]+)\/([^/]+)$/.exec(key);
    if (m) {
      /** @type {{ node?: unknown, type?: unknown }} */
      const record = JSON.parse(value);
      stored.set(`${m[1]}/${m[2]}`, { node: String(record.node), type: String(record.type) });
    }
  }
  /** @type {Map<string, string>} */
  const heldBy = new Map();
  for (const [poolId, ip, node] of input.held) {
    const key = `${poolId}/${ip}`;
    const other = heldBy.get(key);
    if (other !== undefined) {
      problems.push(`address ${ip} of pool ${poolId} is held twice: by ${other} and by ${node}`);
    }
    heldBy.set(key, node);
    const record = stored.get(key);
    if (!record) {
      problems.push(`address ${ip} of pool ${poolId}, held by ${node}, is not in etcd`);
    } else if (record.node !== node) {
      problems.push(
        `address ${ip} of pool ${poolId} is held by ${node} but etcd says ${record.node}`,
      );
    }
  }
  let leaked = 0;
  for (const [key, record] of stored) {
    if (record.type === 'endpoint' && input.hosts.has(record.node) && !heldBy.has(key)) {
      leaked++;
      if (leaked <= 10) {
        problems.push(`address ${key} of ${record.node} is in etcd but no container holds it`);
      }
    }
  }
  if (leaked > 10) {
    problems.push(`… ${leaked} leaked addresses in all`);
  }
  return { check, problems, held: heldBy.size, stored: stored.size, leaked };
}
