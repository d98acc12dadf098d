import { Prefix } from '#app/net';
import type { PlanStore, StoredAddress } from '#app/store';

import { familyName } from './plan-view.js';

/** One address of a pool as `show POOL` lists it. */
export interface AddressRow {
  address: string;
  node: string;
  /** gateway, endpoint or aux, as the record says (endpoint when it says nothing) */
  kind: string;
  /** the endpoint (container) name, when Docker sent it */
  name?: string;
}

export interface PoolListing {
  /** false: the pool does not exist (nothing was written) */
  found: boolean;
  /** addresses written (after the --node filter) */
  count: number;
}

export function addressRow(a: StoredAddress): AddressRow {
  return {
    address: a.ip,
    node: a.record.node,
    kind: a.record.type ?? 'endpoint',
    ...(a.record.name ? { name: a.record.name } : {}),
  };
}

/** Fixed widths, so that a listing streams page by page and still lines up. */
export function addressLine(row: AddressRow, family: 4 | 6): string {
  return [
    row.address.padEnd(family === 4 ? 15 : 39),
    row.node.padEnd(20),
    row.kind.padEnd(8),
    row.name ?? '',
  ]
    .join('  ')
    .trimEnd();
}

/**
 * `show POOL`: the pool's addresses, written page by page as they are read (every page at the
 * revision the pool was read at), as text lines or as one JSON document written in pieces.
 */
export async function streamPoolAddresses(
  store: PlanStore,
  poolId: string,
  options: { node?: string; json: boolean; pageSize?: number },
  write: (text: string) => void,
): Promise<PoolListing> {
  const { pool, revision } = await store.readPool(poolId, store.deadline());
  if (!pool) {
    return { found: false, count: 0 };
  }
  const subnet = Prefix.tryParse(pool.record.subnet);
  const family = subnet?.family ?? 4;
  const head = {
    pool: poolId,
    family: subnet ? familyName(subnet) : 'ipv4',
    subnet: pool.record.subnet,
    revision,
    ...(options.node !== undefined ? { node: options.node } : {}),
  };
  if (options.json) {
    write(`${JSON.stringify(head).slice(0, -1)},"addresses":[`);
  } else {
    const scope = options.node === undefined ? '' : ` held by node ${options.node}`;
    write(
      `pool ${poolId} (${head.family} ${pool.record.subnet}) at revision ${revision}${scope}\n`,
    );
    write(
      `${addressLine({ address: 'ADDRESS', node: 'NODE', kind: 'KIND', name: 'NAME' }, family)}\n`,
    );
  }
  let count = 0;
  const pages = store.addressPages(poolId, store.deadline(), {
    revision,
    ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
  });
  for await (const { addresses } of pages) {
    const rows = addresses
      .map(addressRow)
      .filter((r) => options.node === undefined || r.node === options.node);
    if (rows.length === 0) {
      continue;
    }
    if (options.json) {
      write(`${count > 0 ? ',' : ''}${rows.map((r) => JSON.stringify(r)).join(',')}`);
    } else {
      write(rows.map((r) => `${addressLine(r, family)}\n`).join(''));
    }
    count += rows.length;
  }
  write(options.json ? `],"count":"${count}"}\n` : `${count} address(es)\n`);
  return { found: true, count };
}
