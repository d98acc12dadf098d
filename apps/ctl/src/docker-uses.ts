import { Addr } from '#app/net';

import type { DockerNetworks } from '../../cleanup/src/docker/docker-networks.js';

/** Where this host's Docker uses one IP: a container's endpoint, a gateway or an aux address. */
export interface DockerUse {
  network: string;
  what: 'container' | 'gateway' | 'aux';
  /** the container's name, for a container */
  container?: string;
}

/**
 * Every use of `ip` in the networks of the local Docker (DOCKER_HOST), whatever their IPAM
 * driver: an address this host uses in any network is not free to release. Throws
 * DockerUnavailable when Docker does not answer.
 */
export async function dockerUses(docker: DockerNetworks, ip: string): Promise<DockerUse[]> {
  await docker.ping();
  const uses: DockerUse[] = [];
  const target = canonical(ip);
  const is = (text: string | undefined): boolean =>
    text !== undefined && target !== undefined && canonical(text) === target;
  for (const network of await docker.list()) {
    for (const endpoint of network.endpoints) {
      if (is(endpoint.ipv4) || is(endpoint.ipv6)) {
        uses.push({ network: network.name, what: 'container', container: endpoint.name });
      }
    }
    for (const config of network.configs) {
      if (is(config.gateway)) {
        uses.push({ network: network.name, what: 'gateway' });
      }
      if (config.auxAddresses.some(is)) {
        uses.push({ network: network.name, what: 'aux' });
      }
    }
  }
  return uses;
}

/** One spelling per address (RFC 5952 for IPv6), so `fd00::0:5` and `fd00::5` are one address. */
function canonical(text: string): string | undefined {
  return Addr.tryParse(text)?.toString();
}

/** `container web-1 on network blue`, `the gateway of network blue`, … */
export function describeUse(use: DockerUse): string {
  if (use.what === 'container') {
    return `container ${use.container ?? '?'} on network ${use.network}`;
  }
  return `${use.what === 'gateway' ? 'the gateway' : 'an aux address'} of network ${use.network}`;
}
