import type { StoredAddress } from '#app/store';

/** Why `release POOL ADDR` refuses an address as it is held, or undefined when it may go on. */
export function refuseRelease(
  poolId: string,
  held: StoredAddress,
  nodeId: string,
  force: boolean,
): string | undefined {
  const kind: string = held.record.type ?? 'endpoint';
  if (kind === 'gateway') {
    return (
      `${held.ip} is the gateway of pool ${poolId}: it is released with the pool ` +
      '(docker network rm on every node), never alone'
    );
  }
  if (kind === 'aux') {
    return (
      `${held.ip} is an aux reservation (--aux-address) of pool ${poolId}: it is released ` +
      'when the network is removed, never alone'
    );
  }
  if (held.record.node !== nodeId && !force) {
    return (
      `${held.ip} of pool ${poolId} is held by node ${held.record.node || '(none)'}, not by this ` +
      `node (NODE_ID ${nodeId}): only that node's Docker can tell whether a container uses it. ` +
      `Run kontena-ipam-ctl release there, or add --force to release it without asking Docker`
    );
  }
  return undefined;
}
