import type { LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Etcd3 } from 'etcd3';
import { afterEach, beforeEach } from 'vitest';
import { IpamConfigModule } from '#app/config';
import {
  AddressAllocator,
  AllocatorModule,
  HOST_NETWORKS,
  PoolAllocator,
  PoolStates,
  type HostNetworks,
} from '#app/allocator';
import {
  AllocationStore,
  CleanupStore,
  EtcdConnection,
  NodeRegistration,
  NodeRegistrationModule,
} from '#app/store';

import {
  dockerAddresses,
  dockerPools,
  type DockerAddresses,
  type DockerPools,
} from '../support/docker-calls.js';
import { uniquePrefix } from '../support/prefix.js';

/**
 * One plugin "node": the real allocators and store of one NODE_ID, on a real etcd, called with
 * what dockerd sends (parsed by the plugin's wire parsers, test/support/docker-calls.ts).
 */
export interface IpamNode {
  nodeId: string;
  pools: DockerPools;
  addresses: DockerAddresses;
  /** What the node's AddressAllocator keeps per pool. */
  states: PoolStates;
  /** The node's PoolAllocator itself (what `pools` calls as dockerd would). */
  poolAllocator: PoolAllocator;
  store: AllocationStore;
  cleanup: CleanupStore;
  connection: EtcdConnection;
  close(): Promise<void>;
}

export interface NodeOptions {
  nodeId: string;
  endpoints: string[];
  prefix: string;
  env?: Record<string, string>;
  /** On-link routes this "host" has; tests never depend on the real host's routes. */
  routes?: string[];
  /** Nameservers of this "host"'s resolv.conf. */
  nameservers?: string[];
}

export async function startNode(opts: NodeOptions): Promise<IpamNode> {
  const host: HostNetworks = {
    onLinkRoutes: () => Promise.resolve(opts.routes ?? []),
    nameservers: () => Promise.resolve(opts.nameservers ?? []),
  };
  const moduleRef: TestingModule = await Test.createTestingModule({
    imports: [
      IpamConfigModule.forRoot({
        NODE_ID: opts.nodeId,
        ETCD_ENDPOINT: opts.endpoints.join(','),
        ETCD_PREFIX: opts.prefix,
        ETCD_WAIT_TIMEOUT: '10',
        KONTENA_IPAM_SUPERNET: '10.80.0.0/12',
        KONTENA_IPAM_SUBNET_LENGTH: '24',
        ...opts.env,
      }),
      AllocatorModule,
    ],
  })
    .overrideProvider(HOST_NETWORKS)
    .useValue(host)
    .compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  return {
    nodeId: opts.nodeId,
    pools: dockerPools(moduleRef.get(PoolAllocator)),
    addresses: dockerAddresses(moduleRef.get(AddressAllocator)),
    states: moduleRef.get(PoolStates),
    poolAllocator: moduleRef.get(PoolAllocator),
    store: moduleRef.get(AllocationStore),
    cleanup: moduleRef.get(CleanupStore),
    connection: moduleRef.get(EtcdConnection),
    close: () => moduleRef.close(),
  };
}

/** One running plugin's registration under its NODE_ID, without the rest of the plugin. */
export interface RegisteredPlugin {
  registration: NodeRegistration;
  connection: EtcdConnection;
  /** Stops it as the plugin stops: the lease is revoked. */
  close(): Promise<void>;
}

/**
 * The registration of a plugin of `nodeId` on `host` (a name: nothing checks it is this host's),
 * with a lease of `ttlSeconds` (etcd grants at least 2 s). `logger` gets what it logs; Nest's
 * logger is one for the process, so it is every module's logger from then on (default: silent).
 */
export async function startRegistration(opts: {
  nodeId: string;
  endpoints: string[];
  prefix: string;
  host: string;
  ttlSeconds: number;
  logger?: LoggerService;
}): Promise<RegisteredPlugin> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      IpamConfigModule.forRoot({
        NODE_ID: opts.nodeId,
        ETCD_ENDPOINT: opts.endpoints.join(','),
        ETCD_PREFIX: opts.prefix,
        ETCD_WAIT_TIMEOUT: '10',
      }),
      NodeRegistrationModule.forRoot({
        version: '0.0.0-test',
        ttlSeconds: opts.ttlSeconds,
        host: opts.host,
      }),
    ],
  }).compile();
  moduleRef.useLogger(opts.logger ?? false);
  await moduleRef.init();
  return {
    registration: moduleRef.get(NodeRegistration),
    connection: moduleRef.get(EtcdConnection),
    close: () => moduleRef.close(),
  };
}

/**
 * The store's state (RawEtcd.state) without the nonces of the writes (`req`, `reqs`): what a
 * re-registration (kontena-ipam-ctl repair) restores.
 */
export function withoutNonces(state: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(state).map(([k, v]) => {
      const { req: _req, reqs: _reqs, ...rest } = v as Record<string, unknown>;
      return [k, rest];
    }),
  );
}

/**
 * A raw etcd client for assertions about what is stored: tests check the keys themselves, not
 * only what the allocators say.
 */
export class RawEtcd {
  readonly client: Etcd3;
  constructor(
    endpoints: string[],
    readonly prefix: string,
  ) {
    this.client = new Etcd3({ hosts: endpoints });
  }

  /** Every key under the test prefix with its JSON value, keys relative to the prefix. */
  async dump(): Promise<Record<string, unknown>> {
    const all = await this.client.getAll().prefix(`${this.prefix}/`).strings();
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(all)) {
      out[k.slice(this.prefix.length + 1)] = JSON.parse(v);
    }
    return out;
  }

  /**
   * {@link dump} without the running plugins' registrations (`nodes/`): the state that
   * allocations and releases change.
   */
  async state(): Promise<Record<string, unknown>> {
    const all = await this.dump();
    return Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('nodes/')));
  }

  async keys(under = ''): Promise<string[]> {
    const keys = await this.client.getAll().prefix(`${this.prefix}/${under}`).keys();
    return keys.map((k) => k.slice(this.prefix.length + 1)).sort();
  }

  async revision(): Promise<string> {
    const res = await this.client.kv.range({ key: Buffer.from(`${this.prefix}/`) });
    return res.header.revision;
  }

  close(): void {
    this.client.close();
  }
}

/** Two nodes, `node-a` and `node-b`, on a key prefix of their own, and a raw client to look. */
export interface TwoNodes {
  prefix: string;
  raw: RawEtcd;
  a: IpamNode;
  b: IpamNode;
  /** Stops both nodes and deletes everything under the prefix. */
  close: () => Promise<void>;
}

export async function startTwoNodes(label: string, endpoints: string[]): Promise<TwoNodes> {
  const prefix = uniquePrefix(label);
  const raw = new RawEtcd(endpoints, prefix);
  const a = await startNode({ nodeId: 'node-a', endpoints, prefix });
  const b = await startNode({ nodeId: 'node-b', endpoints, prefix });
  return {
    prefix,
    raw,
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
      await raw.client.delete().prefix(`${prefix}/`);
      raw.close();
    },
  };
}

/** What {@link nodesEachTest} gives a test: its own prefix, a raw client on it, nodes on demand. */
export interface TestNodes {
  readonly prefix: string;
  readonly raw: RawEtcd;
  /** A node of `nodeId` on this test's prefix, with `env` (default: the describe's). */
  node(nodeId: string, env?: Record<string, string>): Promise<IpamNode>;
  /** Closes a node before the test ends (a plugin restart); the teardown leaves it alone. */
  stop(node: IpamNode): Promise<void>;
}

/**
 * Registers, in the calling `describe`, a fresh prefix per test and the teardown of every node
 * started on it, its keys and the raw client.
 */
export function nodesEachTest(
  label: string,
  endpoints: string[],
  defaultEnv: Record<string, string> = {},
): TestNodes {
  const nodes: IpamNode[] = [];
  let current: { prefix: string; raw: RawEtcd } | undefined;
  const now = (): { prefix: string; raw: RawEtcd } => {
    if (!current) {
      throw new Error('nodesEachTest: used outside a test');
    }
    return current;
  };
  beforeEach(() => {
    const prefix = uniquePrefix(label);
    current = { prefix, raw: new RawEtcd(endpoints, prefix) };
  });
  afterEach(async () => {
    const { prefix, raw } = now();
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await raw.client.delete().prefix(`${prefix}/`);
    raw.close();
    current = undefined;
  });
  return {
    get prefix() {
      return now().prefix;
    },
    get raw() {
      return now().raw;
    },
    async node(nodeId, env = defaultEnv) {
      const n = await startNode({ nodeId, endpoints, prefix: now().prefix, env });
      nodes.push(n);
      return n;
    },
    async stop(n) {
      nodes.splice(nodes.indexOf(n), 1);
      await n.close();
    },
  };
}
