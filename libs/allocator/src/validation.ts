import { Addr, Prefix } from '#app/net';
import { InvalidRequest } from '#app/store';

export const GATEWAY_DATA_KEY = 'com.docker.network.gateway';

/** Shared pool names (`--ipam-opt network=NAME`) and generated ids (`local-<uuid>`) alike. */
export const POOL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validatePoolId(value: string, field: string): void {
  if (!POOL_ID_PATTERN.test(value)) {
    throw new InvalidRequest(
      `${field} ${JSON.stringify(value)} is invalid: use 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  }
}

/** An IPv4 subnet from /`minLength` to /30 with no host bits set. */
export function parseIPv4Prefix(value: string, field: string, minLength: number): Prefix {
  const prefix = Prefix.tryParse(value);
  if (!prefix) {
    throw new InvalidRequest(`${field} ${JSON.stringify(value)} is not a valid CIDR subnet`);
  }
  if (prefix.family !== 4) {
    throw new InvalidRequest(`${field} ${value} is IPv6: IPv6 is not supported`);
  }
  if (prefix.length < minLength || prefix.length > 30) {
    throw new InvalidRequest(
      `${field} ${value} has prefix length /${prefix.length}: IPv4 pools must be /${minLength} to /30`,
    );
  }
  if (prefix.hasHostBits()) {
    throw new InvalidRequest(
      `${field} ${value} has host bits set: did you mean ${prefix.masked().toString()}?`,
    );
  }
  return prefix;
}

export function parseHostAddress(value: string, field: string): Addr {
  const addr = Addr.tryParse(value);
  if (!addr) {
    throw new InvalidRequest(`${field} ${JSON.stringify(value)} is not a valid IP address`);
  }
  return addr;
}
