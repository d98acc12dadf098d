import { Inject, Injectable } from '@nestjs/common';
import Docker, { type NetworkInspectInfo } from 'dockerode';

import { ipamConfig, type IpamConfig } from '#app/config';

import { dockerodeOptions } from './docker-host.js';
import type { DockerPlugin } from './driver-names.js';

/** One IPAM configuration entry of a Docker network (IPv4 or IPv6), as Docker shows it. */
export interface DockerIpamConfig {
  subnet?: string;
  /** `IPRange` (`--ip-range`): the pool's SubPool. */
  ipRange?: string;
  gateway?: string;
  /** The values of `AuxiliaryAddresses` (`--aux-address name=ip`). */
  auxAddresses: string[];
}

/** What the cleanup needs of one local Docker network: plain data, no dockerode types. */
export interface DockerNetwork {
  id: string;
  name: string;
  /** `IPAM.Driver`: this plugin's driver name for the networks it serves. */
  ipamDriver: string;
  /** `IPAM.Options.network`: the shared pool's id; absent for a `local-<uuid>` pool. */
  poolOption?: string;
  configs: DockerIpamConfig[];
  /** `Containers[*]`: the endpoints that joined, with their addresses (prefixes stripped). */
  endpoints: { name: string; ipv4?: string; ipv6?: string; mac?: string }[];
}

/** The local Docker daemon, as far as the cleanup asks it anything. */
export interface DockerNetworks {
  /** DOCKER_HOST, for messages. */
  readonly where: string;
  /** Resolves when the daemon answers; throws DockerUnavailable otherwise. */
  ping(): Promise<void>;
  /** Every network with an IPAM configuration or driver, inspected (endpoints included). */
  list(): Promise<DockerNetwork[]>;
  /** The installed managed plugins (`GET /plugins`): this plugin's driver name may be one. */
  plugins(): Promise<DockerPlugin[]>;
}

export const DOCKER_NETWORKS = Symbol('DOCKER_NETWORKS');

/** Docker did not answer, or answered with an error: the pass must not delete anything. */
export class DockerUnavailable extends Error {
  override get name(): string {
    return 'DockerUnavailable';
  }
}

/** Bound on each Docker API call (inactivity of its socket, and in total). */
const DOCKER_CALL_TIMEOUT_MS = 30_000;

/** Converts what `GET /networks/{id}` answers into {@link DockerNetwork}. */
export function toDockerNetwork(info: NetworkInspectInfo): DockerNetwork {
  const ipam = info.IPAM;
  const poolOption = ipam?.Options?.network;
  return {
    id: info.Id,
    name: info.Name,
    ipamDriver: ipam?.Driver ?? '',
    ...(poolOption ? { poolOption } : {}),
    configs: (ipam?.Config ?? []).map((c) => ({
      ...(c.Subnet ? { subnet: c.Subnet } : {}),
      ...(c.IPRange ? { ipRange: c.IPRange } : {}),
      ...(c.Gateway ? { gateway: stripPrefix(c.Gateway) } : {}),
      auxAddresses: Object.values(c.AuxiliaryAddresses ?? {}).flatMap((a) =>
        a ? [stripPrefix(a)] : [],
      ),
    })),
    endpoints: Object.entries(info.Containers ?? {}).map(([id, c]) => ({
      name: c.Name || id,
      ...(c.IPv4Address ? { ipv4: stripPrefix(c.IPv4Address) } : {}),
      ...(c.IPv6Address ? { ipv6: stripPrefix(c.IPv6Address) } : {}),
      ...(c.MacAddress ? { mac: c.MacAddress } : {}),
    })),
  };
}

function stripPrefix(address: string): string {
  const slash = address.indexOf('/');
  return slash < 0 ? address : address.slice(0, slash);
}

/** The local daemon at DOCKER_HOST through dockerode. */
@Injectable()
export class DockerodeNetworks implements DockerNetworks {
  readonly where: string;
  private client?: Docker;

  constructor(@Inject(ipamConfig.KEY) config: IpamConfig) {
    this.where = config.dockerHost;
  }

  /** Made on first use, so that a failure to make it is reported like any Docker failure. */
  private get docker(): Docker {
    this.client ??= new Docker(dockerodeOptions(this.where, DOCKER_CALL_TIMEOUT_MS));
    return this.client;
  }

  async ping(): Promise<void> {
    await this.call('ping', async () => {
      await this.docker.ping();
    });
  }

  async list(): Promise<DockerNetwork[]> {
    const summaries = await this.call('list networks', () => this.docker.listNetworks());
    const networks: DockerNetwork[] = [];
    for (const summary of summaries) {
      // host and none have neither; every network this plugin serves has a driver and a config.
      if (!summary.IPAM?.Driver && (summary.IPAM?.Config ?? []).length === 0) {
        continue;
      }
      // The list leaves Containers empty: only an inspect shows the endpoints.
      const info = await this.call(`inspect network ${summary.Name}`, () =>
        this.docker.getNetwork(summary.Id).inspect(),
      ).catch((e: unknown) => {
        if (e instanceof DockerUnavailable && statusOf(e.cause) === 404) {
          return undefined; // removed since the list: Docker released its pool itself
        }
        throw e;
      });
      if (info) {
        networks.push(toDockerNetwork(info));
      }
    }
    return networks;
  }

  async plugins(): Promise<DockerPlugin[]> {
    const list = await this.call('list plugins', () => this.docker.listPlugins());
    return list.map((p) => ({
      name: p.Name,
      enabled: p.Enabled,
      // The API answers {Prefix, Capability, Version} objects; older clients typed them as text.
      types: interfaceTypes(p.Config.Interface.Types),
      socket: p.Config.Interface.Socket,
    }));
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${DOCKER_CALL_TIMEOUT_MS / 1000} s`)),
            DOCKER_CALL_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (e) {
      const reason = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
      throw new DockerUnavailable(
        statusOf(e) === undefined
          ? `Docker is unreachable at ${this.where} (${what}): ${reason}`
          : `Docker at ${this.where} failed to ${what}: ${reason}`,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The HTTP status of a docker-modem error, if Docker answered at all. */
function statusOf(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null || !('statusCode' in e)) {
    return undefined;
  }
  return typeof e.statusCode === 'number' ? e.statusCode : undefined;
}

function interfaceTypes(types: unknown): string[] {
  return Array.isArray(types)
    ? types.map((t: unknown) => (typeof t === 'string' ? t : interfaceType(t)))
    : [];
}

/** `docker.ipamdriver/1.0` from the API's `{Prefix, Capability, Version}`. */
function interfaceType(t: unknown): string {
  const field = (k: string): string => {
    const v: unknown = typeof t === 'object' && t !== null ? Reflect.get(t, k) : undefined;
    return typeof v === 'string' ? v : '';
  };
  return `${field('Prefix')}.${field('Capability')}/${field('Version')}`;
}
