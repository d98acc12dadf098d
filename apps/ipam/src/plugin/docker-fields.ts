import { Transform } from 'class-transformer';
import { registerDecorator } from 'class-validator';

import {
  type AddressSpace,
  ENDPOINT_NAME_OPTION,
  GATEWAY_ADDRESS_TYPE,
  GLOBAL_ADDRESS_SPACE,
  LOCAL_ADDRESS_SPACE,
  NETWORK_NAME_RULE,
  MAC_ADDRESS_OPTION,
  EXCLUDE_OPTION,
  NETWORK_OPTION,
  POOL_ID_RULE,
  POOL_OPTION_KEYS,
  SUBNET6_LENGTH_OPTION,
  SUBNET_LENGTH_OPTION,
  REQUEST_ADDRESS_TYPE_OPTION,
  isNetworkName,
  isPoolId,
} from '#app/ipam';
import { Addr, NetParseError, Prefix } from '#app/net';

import { isJsonObject } from '../json-object.js';
import { nearMissOf } from './option-keys.js';

/**
 * The fields Docker sends, parsed once: each parser turns the JSON value of one field into what
 * the allocators take (an Addr, a Prefix, typed options), or into the one-sentence reason for a
 * 400 that names the field and the value. Meaning (IPv4 only, SubPool inside Pool, the pool's
 * existence) is the allocators' business.
 */
export type FieldParser<T> = (value: unknown, field: string) => { value: T } | { error: string };

const MAX_SHOWN = 80;

/** The value as JSON, shortened: error messages echo input, and input can be up to 1 MiB. */
export function show(value: unknown): string {
  if (Array.isArray(value)) {
    return 'an array';
  }
  if (typeof value === 'object' && value !== null) {
    return 'an object';
  }
  if (typeof value === 'string') {
    return JSON.stringify(value.length > MAX_SHOWN ? `${value.slice(0, MAX_SHOWN)}…` : value);
  }
  return JSON.stringify(value) ?? String(value);
}

function absent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

const ok = <T>(value: T): { value: T } => ({ value });

function wrongType(field: string, expected: string, value: unknown): { error: string } {
  return { error: `${field} must be ${expected}, got ${show(value)}` };
}

export const optionalString: FieldParser<string | undefined> = (value, field) =>
  absent(value)
    ? ok(undefined)
    : typeof value === 'string'
      ? ok(value)
      : wrongType(field, 'a string', value);

/**
 * `RequestPool.AddressSpace`: one of the names GetDefaultAddressSpaces gave dockerd, typed; any
 * other string (or none) is no address space of this plugin's, and changes nothing.
 */
export const addressSpace: FieldParser<AddressSpace | undefined> = (value, field) => {
  const text = optionalString(value, field);
  if ('error' in text) {
    return text;
  }
  return ok(
    text.value === LOCAL_ADDRESS_SPACE
      ? 'local'
      : text.value === GLOBAL_ADDRESS_SPACE
        ? 'global'
        : undefined,
  );
};

export const optionalBoolean: FieldParser<boolean> = (value, field) =>
  absent(value)
    ? ok(false)
    : typeof value === 'boolean'
      ? ok(value)
      : wrongType(field, 'a boolean', value);

/** `Pool`, `SubPool`: a CIDR prefix; "" means absent (Docker sends "" when not set). */
export const optionalCidr: FieldParser<Prefix | undefined> = (value, field) => {
  if (absent(value) || value === '') {
    return ok(undefined);
  }
  if (typeof value !== 'string') {
    return wrongType(field, 'a CIDR prefix string', value);
  }
  try {
    return ok(Prefix.parse(value));
  } catch (e) {
    if (e instanceof NetParseError) {
      // The parser's message says what is wrong ("missing prefix length"), but echoes the input
      // whole: only use it for input of a sane length.
      return {
        error:
          value.length <= MAX_SHOWN
            ? `${field}: ${e.message}`
            : `${field} ${show(value)} is not a valid CIDR prefix`,
      };
    }
    throw e;
  }
};

/** `RequestAddress.Address`: "" asks for any free address. */
export const optionalAddress: FieldParser<Addr | undefined> = (value, field) =>
  absent(value) || value === '' ? ok(undefined) : address(value, field);

/** `ReleaseAddress.Address`: always set by Docker. */
export const requiredAddress: FieldParser<Addr> = (value, field) =>
  absent(value) || value === '' ? { error: `${field} is required` } : address(value, field);

function address(value: unknown, field: string): { value: Addr } | { error: string } {
  if (typeof value !== 'string') {
    return wrongType(field, 'an IP address string', value);
  }
  if (value.includes('/')) {
    return { error: `${field} ${show(value)} must be an IP address without a prefix length` };
  }
  const addr = Addr.tryParse(value);
  return addr === undefined
    ? { error: `${field} ${show(value)} is not a valid IP address` }
    : ok(addr);
}

export const poolId: FieldParser<string> = (value, field) => {
  if (absent(value) || value === '') {
    return { error: `${field} is required` };
  }
  if (typeof value !== 'string') {
    return wrongType(field, 'a string', value);
  }
  return isPoolId(value)
    ? ok(value)
    : { error: `${field} ${show(value)} is not a valid pool id: ${POOL_ID_RULE}` };
};

/** `Options`: a map of strings or null (a Go nil map). */
function optionMap(
  value: unknown,
  field: string,
): { value: Record<string, string> } | { error: string } {
  if (absent(value)) {
    return ok({});
  }
  if (!isJsonObject(value)) {
    return wrongType(field, 'an object of strings or null', value);
  }
  const map: Record<string, string> = {};
  for (const [key, option] of Object.entries(value)) {
    if (typeof option !== 'string') {
      return wrongType(`${field}[${JSON.stringify(key)}]`, 'a string', option);
    }
    map[key] = option;
  }
  return ok(map);
}

/** RequestPool's options, typed. */
export interface PoolOptions {
  /** `--ipam-opt network=NAME`: the shared pool's id (README, "A static network"). */
  network?: string;
  /** `--ipam-opt subnet-length=N`: the prefix length of a dynamic pool (checked by the allocator). */
  subnetLength?: number;
  /** `--ipam-opt subnet6-length=N`: the same for the IPv6 pool (checked by the allocator). */
  subnet6Length?: number;
  /** `--ipam-opt exclude=CIDR[,CIDR…]`: never handed out dynamically (checked by the allocator). */
  exclude?: Prefix[];
  /** Keys that are no option of this plugin's, nor a near miss of one: accepted, and logged. */
  unknown?: string[];
}

/** `exclude`: IPv4 prefixes without host bits, comma-separated (checked against Pool later). */
function exclusions(
  map: Record<string, string>,
  field: string,
): { value: { exclude?: Prefix[] } } | { error: string } {
  const text = map[EXCLUDE_OPTION];
  if (text === undefined) {
    return ok({});
  }
  const exclude: Prefix[] = [];
  for (const item of text.split(',')) {
    const prefix = Prefix.tryParse(item.trim());
    if (!prefix || prefix.family !== 4 || prefix.hasHostBits()) {
      return {
        error: `${field}.${EXCLUDE_OPTION} ${show(item.trim())} is not an IPv4 prefix such as 10.81.0.0/28 (no host bits)`,
      };
    }
    exclude.push(prefix);
  }
  return ok({ exclude });
}

/** `subnet-length` and `subnet6-length`: a number of bits, in decimal. */
function subnetLengths(
  map: Record<string, string>,
  field: string,
): { value: { subnetLength?: number; subnet6Length?: number } } | { error: string } {
  const lengths: { subnetLength?: number; subnet6Length?: number } = {};
  for (const [key, option, example] of [
    ['subnetLength', SUBNET_LENGTH_OPTION, 26],
    ['subnet6Length', SUBNET6_LENGTH_OPTION, 64],
  ] as const) {
    const text = map[option];
    if (text === undefined) {
      continue;
    }
    if (!/^\d{1,3}$/.test(text)) {
      return {
        error: `${field}.${option} ${show(text)} is not a prefix length: expected a number of bits such as ${example}`,
      };
    }
    lengths[key] = Number(text);
  }
  return ok(lengths);
}

/** Why the options' keys are refused (a near miss of a known key), or their unknowns. */
function optionKeys(
  map: Record<string, string>,
  field: string,
): { unknown: string[] } | { error: string } {
  const unknown: string[] = [];
  for (const key of Object.keys(map)) {
    const near = nearMissOf(key);
    if (near !== undefined) {
      return {
        error: `${field} key ${show(key)} is not an option of kontena-ipam: did you mean ${JSON.stringify(near)}? (options: ${POOL_OPTION_KEYS.join(', ')})`,
      };
    }
    if (!POOL_OPTION_KEYS.includes(key)) {
      unknown.push(key);
    }
  }
  return { unknown };
}

export const poolOptions: FieldParser<PoolOptions> = (value, field) => {
  const map = optionMap(value, field);
  if ('error' in map) {
    return map;
  }
  const keys = optionKeys(map.value, field);
  if ('error' in keys) {
    return keys;
  }
  const length = subnetLengths(map.value, field);
  if ('error' in length) {
    return length;
  }
  const excluded = exclusions(map.value, field);
  if ('error' in excluded) {
    return excluded;
  }
  const rest = {
    ...length.value,
    ...excluded.value,
    ...(keys.unknown.length > 0 ? { unknown: keys.unknown } : {}),
  };
  if (!Object.hasOwn(map.value, NETWORK_OPTION)) {
    return ok(rest);
  }
  const network = map.value[NETWORK_OPTION] ?? '';
  return isNetworkName(network)
    ? ok({ network, ...rest })
    : {
        error: `${field}.${NETWORK_OPTION} ${show(network)} is not a valid network name: ${NETWORK_NAME_RULE}`,
      };
};

/** RequestAddress's options, typed. */
export interface AddressOptions {
  /** `RequestAddressType` says this is the network's gateway. */
  gateway: boolean;
  /** The container's name (Engine ≥ 29). */
  endpointName?: string;
  /** The container's MAC address, lower case (sent since GetCapabilities asks for it). */
  mac?: string;
}

/** A MAC as Go's net.HardwareAddr prints it: 6 to 20 octets of two hex digits, `:` between. */
const MAC_PATTERN = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5,19}$/i;

export const addressOptions: FieldParser<AddressOptions> = (value, field) => {
  const map = optionMap(value, field);
  if ('error' in map) {
    return map;
  }
  const endpointName = map.value[ENDPOINT_NAME_OPTION];
  const mac = map.value[MAC_ADDRESS_OPTION];
  if (mac && !MAC_PATTERN.test(mac)) {
    return {
      error: `${field}[${JSON.stringify(MAC_ADDRESS_OPTION)}] ${show(mac)} is not a MAC address (expected six hex octets such as 02:42:ac:11:00:02)`,
    };
  }
  return ok({
    gateway: map.value[REQUEST_ADDRESS_TYPE_OPTION] === GATEWAY_ADDRESS_TYPE,
    ...(endpointName ? { endpointName } : {}),
    ...(mac ? { mac: mac.toLowerCase() } : {}),
  });
};

/** What a field holds after a failed parse: the validator reports its message. */
class FieldError {
  constructor(readonly message: string) {}
}

/**
 * Parses the field with `parse` when the body is turned into the DTO (class-transformer), and
 * fails validation with the parser's sentence when it could not (class-validator): the handler
 * gets the parsed value, and each field is parsed exactly once. A field missing from the body is
 * never seen by class-transformer: it keeps the DTO's default (its class field initializer), and
 * the validator asks the parser whether it may be missing.
 */
export function Field<T>(parse: FieldParser<T>): PropertyDecorator {
  return (target, propertyKey) => {
    const field = String(propertyKey);
    const parsed = (value: unknown): T | FieldError => {
      const result = parse(value, field);
      return 'error' in result ? new FieldError(result.error) : result.value;
    };
    Transform(({ value }: { value: unknown }) => parsed(value))(target, propertyKey);
    const failure = (value: unknown): FieldError | undefined => {
      if (value instanceof FieldError) {
        return value;
      }
      const missing = value === undefined ? parsed(undefined) : undefined;
      return missing instanceof FieldError ? missing : undefined;
    };
    registerDecorator({
      name: 'dockerField',
      target: target.constructor,
      propertyName: field,
      validator: {
        validate: (value: unknown): boolean => failure(value) === undefined,
        defaultMessage: (args): string => failure(args?.value)?.message ?? `${field} is invalid`,
      },
    });
  };
}
