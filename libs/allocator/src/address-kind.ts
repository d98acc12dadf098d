import type { AddressRequest } from '#app/ipam';
import { ADDRESS_KINDS, type AddressKind, type AddressRecord } from '#app/store';

/*
 * Who holds an address, and when a request is granted an address somebody holds already
 * (README, "Addresses"). GetCapabilities answers `RequiresMACAddress: true`, so dockerd sends
 * every container's request with its MAC and an `--aux-address` request with no options at all:
 * that is how the two are told apart.
 */

/**
 * What a request asks for: the gateway, an aux address (static, no options, from a dockerd that
 * sends MACs) or an endpoint's. A dockerd that activated the plugin before it asked for MACs
 * sends `--ip` without options too: its static requests stay endpoints'.
 */
export function requestedKind(req: AddressRequest): AddressKind {
  if (req.gateway) {
    return 'gateway';
  }
  const anonymous = req.mac === undefined && req.endpointName === undefined;
  return req.address !== undefined && anonymous && req.macsRequested === true ? 'aux' : 'endpoint';
}

/** The kind of a stored record; one written before kinds existed is an endpoint's. */
export function kindOf(record: AddressRecord): string {
  return record.type ?? 'endpoint';
}

export function isKnownKind(kind: string): kind is AddressKind {
  return (ADDRESS_KINDS as readonly string[]).includes(kind);
}

/**
 * Whether the address held as `held` is granted to the request that would write `claim`, without
 * a write: a gateway or an aux address is the network's, granted to every node that asks for it
 * as such; an endpoint's address only to the same node for the same MAC (and, when both carry
 * one, the same endpoint name): dockerd repeating a request whose reply was lost.
 */
export function grantsHeld(claim: AddressRecord, held: AddressRecord): boolean {
  const kind = kindOf(held);
  if (claim.type === 'gateway' || claim.type === 'aux') {
    return kind === claim.type;
  }
  return (
    kind === 'endpoint' &&
    claim.mac !== undefined &&
    held.mac === claim.mac &&
    held.node === claim.node &&
    (held.name === undefined || claim.name === undefined || held.name === claim.name)
  );
}

/**
 * Why ReleaseAddress leaves a record of this node's in place, or undefined when it deletes it:
 * the network's addresses go with the pool, and a kind of a later version is not ours to judge.
 */
export function keptOnRelease(record: AddressRecord): string | undefined {
  const kind = kindOf(record);
  if (kind === 'gateway' || kind === 'aux') {
    return `it is the network's ${kind} address, kept while the pool lives`;
  }
  return isKnownKind(kind)
    ? undefined
    : `it is of kind ${JSON.stringify(kind)}, which this version does not know (upgrade every node)`;
}
