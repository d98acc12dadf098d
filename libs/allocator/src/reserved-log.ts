import { Logger } from '@nestjs/common';
import type { Addr } from '#app/net';
import type { AddressRecord } from '#app/store';

const log = new Logger('AddressAllocator');

/**
 * The one log line per address reserved, static or dynamic (docs/operations.md, "Signals and
 * logs").
 */
export function logReserved(poolId: string, addr: Addr, record: AddressRecord): void {
  log.log({
    msg: `allocated ${record.type === 'gateway' ? 'gateway ' : ''}address ${addr.toString()} in pool ${poolId} to node ${record.node}${record.name ? ` (endpoint ${record.name})` : ''}`,
    pool: poolId,
    address: addr.toString(),
    node: record.node,
    kind: record.type ?? 'endpoint',
    endpoint: record.name,
  });
}
