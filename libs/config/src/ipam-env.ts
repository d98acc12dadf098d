import { Transform } from 'class-transformer';
import {
  ArrayNotEmpty,
  IsBoolean,
  IsIn,
  IsInt,
  Matches,
  Max,
  Min,
  registerDecorator,
  type ValidationArguments,
} from 'class-validator';

import { isNodeId, MAX_V6_POOL_LENGTH, MIN_V6_POOL_LENGTH, NODE_ID_RULE } from '#app/ipam';

import {
  driverNameOfSocket,
  isDockerHost,
  isReadableFile,
  parseBoolean,
  parseEtcdEndpoint,
  parseListenAddress,
  parseLogLevel,
  splitList,
  toStrictInt,
} from './env-rules.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormatName, type LogLevelName } from './ipam-config.js';
import {
  MAX_PREFIX_LENGTH,
  MIN_SUBNET_LENGTH,
  parseSupernetList,
  shortestDefaultLength,
} from './supernet-list.js';

/**
 * Every variable this lib reads, in the order problems are reported (the README table order).
 * Anything else in the environment is ignored.
 */
export const ENV_NAMES = [
  'NODE_ID',
  'ETCD_ENDPOINT',
  'ETCD_PREFIX',
  'ETCD_WAIT_TIMEOUT',
  'ETCD_CA_FILE',
  'ETCD_CERT_FILE',
  'ETCD_KEY_FILE',
  'ETCD_USERNAME',
  'ETCD_PASSWORD',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'KONTENA_IPAM_SUPERNET',
  'KONTENA_IPAM_SUBNET_LENGTH',
  'KONTENA_IPAM_SUPERNET6',
  'KONTENA_IPAM_SUBNET6_LENGTH',
  'KONTENA_IPAM_SOCKET',
  'KONTENA_IPAM_AVOID_HOST_ROUTES',
  'KONTENA_IPAM_HEALTH_LISTEN',
  'KONTENA_IPAM_METRICS_RECORDING',
  'DOCKER_HOST',
] as const;

export type EnvName = (typeof ENV_NAMES)[number];

/** Variables whose value must never be echoed. */
export const SECRET_ENV_NAMES: ReadonlySet<EnvName> = new Set<EnvName>(['ETCD_PASSWORD']);

/** Defaults for unset variables; NODE_ID's (the host name) is supplied by the caller. */
export const ENV_DEFAULTS: Readonly<Partial<Record<EnvName, string>>> = {
  ETCD_ENDPOINT: 'http://localhost:2379',
  ETCD_PREFIX: '/kontena/ipam',
  ETCD_WAIT_TIMEOUT: '60',
  LOG_LEVEL: '1',
  LOG_FORMAT: 'text',
  KONTENA_IPAM_SUPERNET: '10.80.0.0/12',
  KONTENA_IPAM_SUBNET_LENGTH: '24',
  KONTENA_IPAM_SUBNET6_LENGTH: '64',
  KONTENA_IPAM_SOCKET: '/run/docker/plugins/kontena-ipam.sock',
  KONTENA_IPAM_AVOID_HOST_ROUTES: 'true',
  KONTENA_IPAM_HEALTH_LISTEN: '127.0.0.1:2275',
  KONTENA_IPAM_METRICS_RECORDING: 'true',
  DOCKER_HOST: 'unix:///var/run/docker.sock',
};

const TLS_FILE_NAMES = ['ETCD_CA_FILE', 'ETCD_CERT_FILE', 'ETCD_KEY_FILE'] as const;

/**
 * Builds a property decorator from a predicate. The predicate sees the whole (transformed)
 * env object, which is how the cross-field rules live next to the single-field ones.
 */
function Check(
  name: string,
  isValid: (value: unknown, env: IpamEnv) => boolean,
  expected: string | ((value: unknown, env: IpamEnv) => string),
): PropertyDecorator {
  return (target, propertyKey) => {
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: String(propertyKey),
      validator: {
        validate: (value: unknown, args?: ValidationArguments) => isValid(value, envOf(args)),
        defaultMessage: (args?: ValidationArguments) =>
          typeof expected === 'string' ? expected : expected(args?.value, envOf(args)),
      },
    });
  };
}

function envOf(args: ValidationArguments | undefined): IpamEnv {
  const object = args?.object;
  if (!(object instanceof IpamEnv)) {
    throw new TypeError('IpamEnv validators only validate IpamEnv instances');
  }
  return object;
}

/** Transforms a string value, leaving anything else (never expected from an env) untouched. */
function TransformString(fn: (text: string) => unknown): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' ? fn(value) : value,
  );
}

const isString = (value: unknown): value is string => typeof value === 'string';

const endpointOf = (item: unknown): string | undefined =>
  isString(item) ? parseEtcdEndpoint(item) : undefined;

const hasTlsFile = (env: IpamEnv): boolean =>
  TLS_FILE_NAMES.some((name) => env[name] !== undefined);

/** The value must be set (or the other variable unset): for settings that come as a pair. */
function SetTogetherWith(other: keyof IpamEnv): PropertyDecorator {
  return Check(
    `setTogetherWith${other}`,
    (value, env) => value !== undefined || env[other] === undefined,
    `must be set together with ${other}`,
  );
}

/** Optional file setting: when set it must be readable now, not at the first TLS handshake. */
function ReadableFile(): PropertyDecorator {
  return Check(
    'readableFile',
    (value) => value === undefined || (isString(value) && isReadableFile(value)),
    'must be a readable file',
  );
}

/**
 * The plain subnet length applies to the supernets without a `:LENGTH` of their own, so it is at
 * least each of their prefix lengths; `min` is also the floor of any pool of the family.
 */
function lengthRule(
  list: unknown,
  family: 4 | 6,
  bounds: { min: number; max: number },
): { min: number; max: number; why: string } {
  const shortest = typeof list === 'string' ? shortestDefaultLength(list, family) : undefined;
  const min = Math.max(bounds.min, shortest?.length ?? 0);
  const name = family === 4 ? 'the supernet' : 'KONTENA_IPAM_SUPERNET6';
  const floor =
    min <= bounds.min
      ? ''
      : shortest !== undefined && shortest.entries > 1
        ? ` (at least the prefix length of every supernet listed without a :LENGTH of its own)`
        : ` (at least ${name}'s prefix length)`;
  return { min, max: bounds.max, why: `must be an integer from ${min} to ${bounds.max}${floor}` };
}

const V4_BOUNDS = { min: MIN_SUBNET_LENGTH, max: MAX_PREFIX_LENGTH };
const V6_BOUNDS = { min: MIN_V6_POOL_LENGTH, max: MAX_V6_POOL_LENGTH };

/** A Check for a supernet list of one family (supernet-list.ts). */
function SupernetList(name: string, family: 4 | 6, optional: boolean): PropertyDecorator {
  return Check(
    name,
    (value) =>
      (optional && value === undefined) || (isString(value) && parseSupernetList(value, family).ok),
    (value) => {
      const parsed = isString(value) ? parseSupernetList(value, family) : undefined;
      return parsed?.ok === false ? parsed.why : 'must be a comma-separated list of CIDR[:LENGTH]';
    },
  );
}

/** A Check for the subnet length that applies to the supernets of `list` without their own. */
function SubnetLength(name: string, list: keyof IpamEnv, family: 4 | 6): PropertyDecorator {
  const bounds = family === 4 ? V4_BOUNDS : V6_BOUNDS;
  return Check(
    name,
    (value, env) => {
      const { min, max } = lengthRule(env[list], family, bounds);
      return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
    },
    (_value, env) => lengthRule(env[list], family, bounds).why,
  );
}

const NODE_ID_EXPECTED = `must be ${NODE_ID_RULE}`;
const WAIT_TIMEOUT_EXPECTED = 'must be an integer from 1 to 3600 (seconds)';

const ENDPOINTS_EXPECTED =
  'must be comma-separated http:// or https:// URLs with a host and optional port, without path, query or credentials';

/**
 * The environment as class-validator sees it: one property per variable, named like the
 * variable so validation errors map straight back to it. `plainToInstance` turns the raw
 * strings (defaults already applied, unset = absent) into the declared types; a value that
 * cannot be converted is left as the raw string so the type checks below reject it. The
 * declared types therefore only hold after `validateSync` reported no error.
 */
export class IpamEnv {
  /** Used as an etcd key segment, hence no `/`; whitespace/control chars would corrupt logs. */
  @Check('nodeId', (value) => isString(value) && isNodeId(value), NODE_ID_EXPECTED)
  NODE_ID: string;

  // class-validator reports a property's messages bottom-up: the shape checks come first.
  @TransformString(splitList)
  @Check(
    'httpsWithTls',
    (value, env) =>
      !hasTlsFile(env) ||
      !Array.isArray(value) ||
      value.every((item) => endpointOf(item)?.startsWith('https://') !== false),
    'every endpoint must use https:// when ETCD_CA_FILE, ETCD_CERT_FILE or ETCD_KEY_FILE is set',
  )
  // The etcd client has one channel credential for all endpoints: with one https:// endpoint
  // it speaks TLS to every one, so an http:// endpoint beside it would never answer. With a TLS
  // file set, the rule above already says which scheme.
  @Check(
    'sameScheme',
    (value, env) =>
      hasTlsFile(env) ||
      !Array.isArray(value) ||
      new Set(value.flatMap((item) => endpointOf(item)?.split(':', 1) ?? [])).size <= 1,
    'must all use the same scheme, http:// or https://',
  )
  @ArrayNotEmpty({ message: ENDPOINTS_EXPECTED })
  @Check(
    'etcdEndpoints',
    (value) => Array.isArray(value) && value.every((item) => endpointOf(item) !== undefined),
    (value) => {
      const items: unknown[] = Array.isArray(value) ? value : [];
      const bad = items.findIndex((item) => endpointOf(item) === undefined);
      return items.length > 1
        ? `${ENDPOINTS_EXPECTED} (item ${bad + 1} is not)`
        : ENDPOINTS_EXPECTED;
    },
  )
  ETCD_ENDPOINT: string[];

  /** Trailing slashes are dropped so callers can always join with `${prefix}/…`. */
  @TransformString((text) => text.replace(/\/+$/, ''))
  @Matches(/^\/[^\s\p{Cc}]+$/u, {
    message: 'must be a key prefix of / and a name (e.g. /kontena/ipam), without whitespace',
  })
  ETCD_PREFIX: string;

  @TransformString(toStrictInt)
  @IsInt({ message: WAIT_TIMEOUT_EXPECTED })
  @Min(1, { message: WAIT_TIMEOUT_EXPECTED })
  @Max(3600, { message: WAIT_TIMEOUT_EXPECTED })
  ETCD_WAIT_TIMEOUT: number;

  @ReadableFile()
  ETCD_CA_FILE?: string;

  @ReadableFile()
  @SetTogetherWith('ETCD_KEY_FILE')
  ETCD_CERT_FILE?: string;

  @ReadableFile()
  @SetTogetherWith('ETCD_CERT_FILE')
  ETCD_KEY_FILE?: string;

  @SetTogetherWith('ETCD_PASSWORD')
  ETCD_USERNAME?: string;

  /** Secret: never echoed (see SECRET_ENV_NAMES). */
  @SetTogetherWith('ETCD_USERNAME')
  ETCD_PASSWORD?: string;

  @TransformString((text) => parseLogLevel(text) ?? text)
  @IsIn([...LOG_LEVELS], {
    message:
      'must be 0 (debug), 1 (info), 2 (warn), 3 (error) or one of debug, info, warn, warning, error',
  })
  LOG_LEVEL: LogLevelName;

  @IsIn([...LOG_FORMATS], { message: 'must be text or json' })
  LOG_FORMAT: LogFormatName;

  /** A comma-separated list of `CIDR[:LENGTH]`, tried in order (supernet-list.ts). */
  @SupernetList('ipv4Supernets', 4, false)
  KONTENA_IPAM_SUPERNET: string;

  /** Cross-field: subnets are carved out of the supernets, so they cannot be larger than them. */
  @TransformString(toStrictInt)
  @SubnetLength('subnetLength', 'KONTENA_IPAM_SUPERNET', 4)
  KONTENA_IPAM_SUBNET_LENGTH: number;

  /**
   * A list as KONTENA_IPAM_SUPERNET. Unset: a ULA /48 chosen once per cluster and kept in etcd
   * (libs/allocator, supernet6.ts).
   */
  @SupernetList('ipv6Supernets', 6, true)
  KONTENA_IPAM_SUPERNET6?: string;

  /** Cross-field, as KONTENA_IPAM_SUBNET_LENGTH: at least the IPv6 supernets' lengths. */
  @TransformString(toStrictInt)
  @SubnetLength('subnet6Length', 'KONTENA_IPAM_SUPERNET6', 6)
  KONTENA_IPAM_SUBNET6_LENGTH: number;

  @Check(
    'socketPath',
    (value) => isString(value) && driverNameOfSocket(value) !== undefined,
    'must be an absolute path to a <name>.sock file, at most 107 bytes long (unix socket limit)',
  )
  KONTENA_IPAM_SOCKET: string;

  @TransformString((text) => parseBoolean(text) ?? text)
  @IsBoolean({ message: 'must be a boolean: true/false, 1/0, yes/no or on/off' })
  KONTENA_IPAM_AVOID_HOST_ROUTES: boolean;

  @Check(
    'listenAddress',
    (value) => isString(value) && parseListenAddress(value) !== undefined,
    'must be host:port or [ipv6]:port with a port from 1 to 65535',
  )
  KONTENA_IPAM_HEALTH_LISTEN: string;

  /** For the bench only (bench/run.mjs --metrics-off): false records no metric. */
  @TransformString((text) => parseBoolean(text) ?? text)
  @IsBoolean({ message: 'must be a boolean: true/false, 1/0, yes/no or on/off' })
  KONTENA_IPAM_METRICS_RECORDING: boolean;

  @Check(
    'dockerHost',
    (value) => isString(value) && isDockerHost(value),
    'must be unix:///absolute/path, tcp://host:port, http://host:port or https://host:port',
  )
  DOCKER_HOST: string;
}
