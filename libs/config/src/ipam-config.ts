import type { EnvName } from './ipam-env.js';

/** Log level names, in increasing severity. The numeric LOG_LEVEL values 0–3 index this list. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export type LogLevelName = (typeof LOG_LEVELS)[number];

/** LOG_FORMAT: text lines as ever, or one JSON object per line. */
export const LOG_FORMATS = ['text', 'json'] as const;

export type LogFormatName = (typeof LOG_FORMATS)[number];

/**
 * The validated configuration of one kontena-ipam process, built once at boot from the
 * environment by {@link loadConfig}. Instances are deeply frozen: copy before changing anything.
 */
export interface IpamConfig {
  /** Owner tag of this host (NODE_ID, default `os.hostname()`); used as an etcd key segment. */
  nodeId: string;
  etcd: {
    /** Normalised `http(s)://host[:port]` URLs, in the order given. Never empty. */
    endpoints: string[];
    /** Key prefix starting with `/`, without a trailing `/`. */
    prefix: string;
    waitTimeoutSeconds: number;
    /** Present when any TLS file is set; then every endpoint is https://. */
    tls?: { caFile?: string; certFile?: string; keyFile?: string };
    /** Present when both ETCD_USERNAME and ETCD_PASSWORD are set. */
    auth?: { username: string; password: string };
  };
  logLevel: LogLevelName;
  logFormat: LogFormatName;
  /**
   * KONTENA_IPAM_SUPERNET: where dynamic IPv4 pools are carved from, tried in order. Never empty;
   * each a canonical CIDR without host bits, with the prefix length of its pools (its own
   * `:LENGTH`, else subnetLength). Entries never overlap.
   */
  supernets: readonly SupernetConfig[];
  /** KONTENA_IPAM_SUBNET_LENGTH: for the supernets without a length of their own. */
  subnetLength: number;
  /**
   * KONTENA_IPAM_SUPERNET6, as `supernets`; undefined when unset, and the cluster's ULA /48 kept
   * in etcd is used (libs/allocator, supernet6.ts) with subnet6Length.
   */
  supernets6?: readonly SupernetConfig[];
  /** Prefix length of dynamic IPv6 pools (48-120) where no supernet says otherwise. */
  subnet6Length: number;
  socketPath: string;
  /** Docker plugin/driver name: the socket file name without `.sock`. */
  driverName: string;
  avoidHostRoutes: boolean;
  /** Where the health endpoint listens; `host` has no brackets (ready for `server.listen`). */
  health: { host: string; port: number };
  dockerHost: string;
  /** false only in the bench's comparison run: the metrics record nothing */
  metricsRecording: boolean;
  /** Where the values came from, for the start-up log and configWarnings. */
  sources?: ConfigSources;
}

/** One supernet of a list: a canonical CIDR and the prefix length of the pools carved from it. */
export interface SupernetConfig {
  supernet: string;
  subnetLength: number;
}

/** What the environment gave, and what it did not. */
export interface ConfigSources {
  /** Variables unset (or empty), so their default is in force; NODE_ID's is the host name. */
  defaulted: readonly EnvName[];
  /** Variables set that nothing reads but that look like one that is (env-lookalikes.ts). */
  lookalikes: readonly { name: string; meant: EnvName }[];
}
