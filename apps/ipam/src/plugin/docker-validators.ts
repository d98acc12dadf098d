import { registerDecorator } from 'class-validator';

import { NETWORK_OPTION } from '#app/allocator';
import { Addr, NetParseError, Prefix } from '#app/net';

import { isJsonObject } from '../json-object.js';

/**
 * Syntax checks for the fields Docker sends, as class-validator decorators. Each check returns
 * the one-sentence reason for a 400 (naming the field and the value) or undefined when the value
 * is fine. Meaning (IPv6 support, SubPool inside Pool, pool existence) is the allocators' job.
 */
export type FieldCheck = (value: unknown, field: string) => string | undefined;

/** Pool ids are network names (`Options.network`) or generated `local-<uuid>` ids (spec 1.3). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const NAME_RULE =
  'expected 1-128 letters, digits, "_", "." or "-", starting with a letter or digit';

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

function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

function wrongType(field: string, expected: string, value: unknown): string {
  return `${field} must be ${expected}, got ${show(value)}`;
}

export const optionalString: FieldCheck = (value, field) =>
  absent(value) || typeof value === 'string' ? undefined : wrongType(field, 'a string', value);

export const optionalBoolean: FieldCheck = (value, field) =>
  absent(value) || typeof value === 'boolean' ? undefined : wrongType(field, 'a boolean', value);

/** `Pool`, `SubPool`: a CIDR prefix; "" means absent (Docker sends "" when not set). */
export const optionalCidr: FieldCheck = (value, field) => {
  if (absent(value) || value === '') {
    return undefined;
  }
  if (typeof value !== 'string') {
    return wrongType(field, 'a CIDR prefix string', value);
  }
  try {
    Prefix.parse(value);
    return undefined;
  } catch (e) {
    if (e instanceof NetParseError) {
      // The parser's message says what is wrong ("missing prefix length"), but echoes the input
      // whole: only use it for input of a sane length.
      return value.length <= MAX_SHOWN
        ? `${field}: ${e.message}`
        : `${field} ${show(value)} is not a valid CIDR prefix`;
    }
    throw e;
  }
};

function address(required: boolean): FieldCheck {
  return (value, field) => {
    if (absent(value) || value === '') {
      return required ? `${field} is required` : undefined;
    }
    if (typeof value !== 'string') {
      return wrongType(field, 'an IP address string', value);
    }
    if (value.includes('/')) {
      return `${field} ${show(value)} must be an IP address without a prefix length`;
    }
    return Addr.tryParse(value) === undefined
      ? `${field} ${show(value)} is not a valid IP address`
      : undefined;
  };
}

/** `RequestAddress.Address`: "" asks for any free address. */
export const optionalAddress = address(false);
/** `ReleaseAddress.Address`: always set by Docker. */
export const requiredAddress = address(true);

export const poolId: FieldCheck = (value, field) => {
  if (absent(value) || value === '') {
    return `${field} is required`;
  }
  if (typeof value !== 'string') {
    return wrongType(field, 'a string', value);
  }
  return NAME_PATTERN.test(value)
    ? undefined
    : `${field} ${show(value)} is not a valid pool id: ${NAME_RULE}`;
};

/** `Options`: a map of strings or null (a Go nil map); `network` names a shared pool (spec 1.3). */
export const optionMap: FieldCheck = (value, field) => {
  if (absent(value)) {
    return undefined;
  }
  if (!isJsonObject(value)) {
    return wrongType(field, 'an object of strings or null', value);
  }
  for (const [key, option] of Object.entries(value)) {
    if (typeof option !== 'string') {
      return wrongType(`${field}[${JSON.stringify(key)}]`, 'a string', option);
    }
  }
  const network = value[NETWORK_OPTION];
  if (Object.hasOwn(value, NETWORK_OPTION) && !NAME_PATTERN.test(String(network))) {
    return `${field}.${NETWORK_OPTION} ${show(network)} is not a valid network name: ${NAME_RULE}`;
  }
  return undefined;
};

/** Registers `check` as a class-validator constraint whose message is the check's own sentence. */
export function Check(check: FieldCheck): PropertyDecorator {
  return (target, propertyKey) => {
    registerDecorator({
      name: 'dockerField',
      target: target.constructor,
      propertyName: String(propertyKey),
      validator: {
        validate: (value: unknown, args): boolean =>
          check(value, args?.property ?? String(propertyKey)) === undefined,
        defaultMessage: (args): string => {
          const field = args?.property ?? String(propertyKey);
          return check(args?.value, field) ?? `${field} is invalid`;
        },
      },
    });
  };
}
