import type { DockerNetwork } from './docker-networks.js';

/** A Docker plugin as `GET /plugins` lists it, as far as finding this plugin's name goes. */
export interface DockerPlugin {
  /** `kontena-ipam:latest`, `registry.example/kontena-ipam:0.3.0`: its IPAM driver name */
  name: string;
  enabled: boolean;
  /** the interface types it declares (`docker.ipamdriver/1.0`) */
  types: string[];
  /** the socket file name of its interface (`kontena-ipam.sock`) */
  socket: string;
}

/** `registry/kontena-ipam:0.3.0` → `kontena-ipam`: a name without registry path and tag. */
function bareName(driver: string): string {
  const last = driver.slice(driver.lastIndexOf('/') + 1);
  const colon = last.indexOf(':');
  return colon < 0 ? last : last.slice(0, colon);
}

/**
 * The IPAM driver names under which Docker knows this plugin, when `--driver` is not given:
 * the socket's file name (`kontena-ipam`, a plugin run as a program or container), every
 * managed plugin whose IPAM interface is on a socket of that name (`kontena-ipam:latest`,
 * enabled or not: its networks stay), and any driver of a local network that is that name with
 * a registry path or tag. Reading a network of this plugin as foreign would free its addresses;
 * a name too many costs nothing, so every candidate counts.
 */
export function driverNames(
  socketDriver: string,
  plugins: readonly DockerPlugin[],
  networks: readonly DockerNetwork[],
): string[] {
  const names = new Set<string>([socketDriver]);
  const socketFile = `${socketDriver}.sock`;
  for (const p of plugins) {
    if (p.socket === socketFile && p.types.some((t) => t.endsWith('ipamdriver/1.0'))) {
      names.add(p.name);
    }
  }
  for (const n of networks) {
    if (n.ipamDriver !== '' && bareName(n.ipamDriver) === socketDriver) {
      names.add(n.ipamDriver);
    }
  }
  return [...names];
}
