import { hostname } from 'node:os';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

import { ConfigError } from './config-error.js';
import {
  driverNameOfSocket,
  parseEtcdEndpoint,
  parseListenAddress,
  redactUserinfo,
} from './env-rules.js';
import { findLookalikes } from './env-lookalikes.js';
import type { ConfigSources, IpamConfig, SupernetConfig } from './ipam-config.js';
import { ENV_DEFAULTS, ENV_NAMES, IpamEnv, SECRET_ENV_NAMES, type EnvName } from './ipam-env.js';
import { parseSupernetList } from './supernet-list.js';

/** What `NAME=value` shows instead of a secret. */
const REDACTED = '***';

type RawEnv = Partial<Record<EnvName, string>>;

/**
 * Builds the one validated {@link IpamConfig} from an environment map.
 *
 * Pure apart from `os.hostname()` (NODE_ID default) and checking that TLS files are readable:
 * it never reads `process.env` itself, so tests and callers pass exactly what should count.
 * An empty string counts as unset. Defaults are validated like given values.
 *
 * @throws ConfigError listing every bad variable at once (secrets shown as `***`).
 * @returns a deeply frozen object.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): IpamConfig {
  const given: RawEnv = {};
  for (const name of ENV_NAMES) {
    const value = env[name];
    if (value !== undefined && value !== '') {
      given[name] = value;
    }
  }
  const raw: RawEnv = { NODE_ID: hostname(), ...ENV_DEFAULTS, ...given };

  const dto = plainToInstance(IpamEnv, raw);
  // target/value off: the ValidationErrors must not carry the password around.
  const errors = validateSync(dto, { validationError: { target: false, value: false } });
  if (errors.length > 0) {
    throw new ConfigError(describeProblems(errors, raw, given));
  }
  const sources: ConfigSources = {
    defaulted: ENV_NAMES.filter((name) => given[name] === undefined),
    lookalikes: findLookalikes(env, ENV_NAMES),
  };
  return deepFreeze({ ...toConfig(dto), sources });
}

/**
 * A copy of the config that is safe to log at start-up: the etcd password becomes `***`;
 * everything else (file paths included) is shown as is.
 */
export function redactedConfig(c: IpamConfig): Record<string, unknown> {
  const { auth, ...etcd } = c.etcd;
  return {
    ...c,
    etcd: { ...etcd, ...(auth && { auth: { username: auth.username, password: REDACTED } }) },
  };
}

/** One `NAME=value: expected` line per bad variable, in {@link ENV_NAMES} order. */
function describeProblems(errors: ValidationError[], raw: RawEnv, given: RawEnv): string[] {
  const expectations = new Map<string, string[]>();
  for (const error of errors) {
    const messages = expectations.get(error.property) ?? [];
    for (const message of Object.values(error.constraints ?? {})) {
      if (!messages.includes(message)) {
        messages.push(message);
      }
    }
    expectations.set(error.property, messages);
  }

  const password = raw.ETCD_PASSWORD;
  // Belt and braces: whatever a message contains, the password text never leaves this function.
  const scrub = (line: string): string =>
    password === undefined ? line : line.split(password).join(REDACTED);

  return ENV_NAMES.filter((name) => expectations.has(name)).map((name) => {
    const value = raw[name];
    const defaulted = value !== undefined && given[name] === undefined;
    const text = (expectations.get(name) ?? []).join('; ');
    return scrub(
      `${name}=${displayValue(name, value)}: ${text}${defaulted ? '; this is the default, so set it explicitly' : ''}`,
    );
  });
}

function displayValue(name: EnvName, value: string | undefined): string {
  if (value === undefined) {
    return '';
  }
  if (SECRET_ENV_NAMES.has(name)) {
    return REDACTED;
  }
  // Escape control characters so every problem stays on its own line.
  return redactUserinfo(value).replace(/\p{Cc}/gu, (c) => JSON.stringify(c).slice(1, -1));
}

/** Only called after validation passed, so the parsers cannot fail here. */
function toConfig(dto: IpamEnv): IpamConfig {
  const health = parseListenAddress(dto.KONTENA_IPAM_HEALTH_LISTEN);
  const driverName = driverNameOfSocket(dto.KONTENA_IPAM_SOCKET);
  if (health === undefined || driverName === undefined) {
    throw new Error('BUG: validated configuration failed to parse');
  }

  const tls = {
    ...(dto.ETCD_CA_FILE !== undefined && { caFile: dto.ETCD_CA_FILE }),
    ...(dto.ETCD_CERT_FILE !== undefined && { certFile: dto.ETCD_CERT_FILE }),
    ...(dto.ETCD_KEY_FILE !== undefined && { keyFile: dto.ETCD_KEY_FILE }),
  };
  const auth =
    dto.ETCD_USERNAME !== undefined && dto.ETCD_PASSWORD !== undefined
      ? { username: dto.ETCD_USERNAME, password: dto.ETCD_PASSWORD }
      : undefined;

  return {
    nodeId: dto.NODE_ID,
    etcd: {
      endpoints: dto.ETCD_ENDPOINT.map((item) => parseEtcdEndpoint(item) ?? item),
      prefix: dto.ETCD_PREFIX,
      waitTimeoutSeconds: dto.ETCD_WAIT_TIMEOUT,
      ...(Object.keys(tls).length > 0 && { tls }),
      ...(auth && { auth }),
    },
    logLevel: dto.LOG_LEVEL,
    logFormat: dto.LOG_FORMAT,
    supernets: supernetsOf(dto.KONTENA_IPAM_SUPERNET, 4, dto.KONTENA_IPAM_SUBNET_LENGTH),
    subnetLength: dto.KONTENA_IPAM_SUBNET_LENGTH,
    ...(dto.KONTENA_IPAM_SUPERNET6 !== undefined && {
      supernets6: supernetsOf(dto.KONTENA_IPAM_SUPERNET6, 6, dto.KONTENA_IPAM_SUBNET6_LENGTH),
    }),
    subnet6Length: dto.KONTENA_IPAM_SUBNET6_LENGTH,
    socketPath: dto.KONTENA_IPAM_SOCKET,
    driverName,
    avoidHostRoutes: dto.KONTENA_IPAM_AVOID_HOST_ROUTES,
    health,
    dockerHost: dto.DOCKER_HOST,
    metricsRecording: dto.KONTENA_IPAM_METRICS_RECORDING,
  };
}

/** A validated supernet list, each entry with the length of its pools (its own, else `length`). */
function supernetsOf(text: string, family: 4 | 6, length: number): SupernetConfig[] {
  const parsed = parseSupernetList(text, family);
  if (!parsed.ok) {
    throw new Error('BUG: validated configuration failed to parse');
  }
  return parsed.entries.map((e) => ({
    supernet: e.prefix.toString(),
    subnetLength: e.length ?? length,
  }));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) {
      deepFreeze(child);
    }
    Object.freeze(value);
  }
  return value;
}
