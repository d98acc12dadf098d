import { accessSync, constants, statSync } from 'node:fs';

import { MAX_V6_POOL_LENGTH, v6NoContainerRange } from '#app/ipam';
import { Addr, parseIPv4Number, Prefix } from '#app/net';

import { LOG_LEVELS, type LogLevelName } from './ipam-config.js';

/*
 * Small pure parsers behind the env DTO's validators. Each returns `undefined` for an invalid
 * value so the DTO decorators and the final config builder share one definition of "valid".
 */

/** sun_path is 108 bytes on Linux, one of which is the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Splits a comma-separated list, trimming items and dropping empty ones (`a, ,b,` → [a, b]). */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** Strict decimal integer: no sign, exponent, hex, fraction or surrounding blanks; else NaN. */
export function toStrictInt(text: string): number {
  return /^\d+$/.test(text) ? Number(text) : Number.NaN;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function parseBoolean(text: string): boolean | undefined {
  const word = text.toLowerCase();
  if (TRUE_WORDS.has(word)) {
    return true;
  }
  return FALSE_WORDS.has(word) ? false : undefined;
}

/** `0`–`3` or a level name (case-insensitive, `warning` meaning `warn`). */
export function parseLogLevel(text: string): LogLevelName | undefined {
  if (/^[0-3]$/.test(text)) {
    return LOG_LEVELS[Number(text)];
  }
  const word = text.toLowerCase();
  if (word === 'warning') {
    return 'warn';
  }
  return LOG_LEVELS.find((level) => level === word);
}

/**
 * A DNS name / IPv4 address as written in a URL or listen address. Underscores are allowed
 * because Docker container and compose service names (which resolve on Docker networks) use them.
 */
export function isHostName(text: string): boolean {
  if (!/^[\w-]+(?:\.[\w-]+)*$/.test(text)) {
    return false;
  }
  // Something that looks like a dotted number must be a real four-part IPv4 address.
  return !/^[\d.]+$/.test(text) || parseIPv4Number(text) !== undefined;
}

/**
 * IPv6 text as written between URL brackets. A zone (`fe80::1%eth0`) is allowed here, unlike in
 * libs/net: a listen address on a link-local address needs it, and it is not part of the address.
 */
function isIPv6Host(text: string): boolean {
  const zone = /%[0-9a-z]+$/i.exec(text);
  const address = zone === null ? text : text.slice(0, zone.index);
  return Addr.tryParse(address)?.family === 6;
}

export interface HostPort {
  /** Host without IPv6 brackets. */
  host: string;
  port: number | undefined;
}

/** `host[:port]` or `[ipv6][:port]` with a port 1–65535 (the port is optional here). */
export function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  if (match === null) {
    return undefined;
  }
  const [, ipv6, name, portText] = match;
  const host = ipv6 ?? name ?? '';
  if (ipv6 === undefined ? !isHostName(host) : !isIPv6Host(host)) {
    return undefined;
  }
  if (portText === undefined) {
    return { host, port: undefined };
  }
  const port = Number(portText);
  return port >= 1 && port <= 65_535 ? { host, port } : undefined;
}

export type SupernetParse = { ok: true; prefix: Prefix } | { ok: false; reason: 'ipv6' | 'syntax' };

/**
 * An IPv4 network in CIDR notation (`a.b.c.d/len`, strict as libs/net parses it: four decimal
 * octets without leading zeros, a decimal length). Host bits are kept, so the caller can say
 * which network was meant; IPv6 text is told apart so the error can point at KONTENA_IPAM_SUPERNET6.
 */
export function parseSupernet(text: string): SupernetParse {
  const prefix = Prefix.tryParse(text);
  if (prefix?.family === 4) {
    return { ok: true, prefix };
  }
  const slash = text.indexOf('/');
  const address = Addr.tryParse(slash < 0 ? text : text.slice(0, slash));
  return { ok: false, reason: address?.family === 6 ? 'ipv6' : 'syntax' };
}

/**
 * KONTENA_IPAM_SUPERNET6: an IPv6 network in CIDR notation, no host bits, no longer than the
 * longest pool, outside the ranges where no address can serve a container; `why` says what is
 * wrong, an IPv4 network included (that one belongs in KONTENA_IPAM_SUPERNET).
 */
export function parseSupernet6(
  text: string,
): { ok: true; prefix: Prefix } | { ok: false; why: string } {
  const prefix = Prefix.tryParse(text);
  if (prefix === undefined) {
    return { ok: false, why: 'must be an IPv6 network in CIDR notation, e.g. fd00:1234:5678::/48' };
  }
  if (prefix.family === 4) {
    return {
      ok: false,
      why: 'is an IPv4 network: must be an IPv6 network such as fd00:1234:5678::/48 (IPv4 pools come from KONTENA_IPAM_SUPERNET)',
    };
  }
  if (prefix.length > MAX_V6_POOL_LENGTH) {
    return { ok: false, why: `must have a prefix length of at most ${MAX_V6_POOL_LENGTH}` };
  }
  if (prefix.hasHostBits()) {
    return {
      ok: false,
      why: `must not have host bits set (did you mean ${prefix.masked().toString()}?)`,
    };
  }
  const special = v6NoContainerRange(prefix);
  if (special) {
    return {
      ok: false,
      why: `overlaps ${special.range.toString()}, ${special.what}, where no address can serve a container`,
    };
  }
  return { ok: true, prefix };
}

/** Like {@link parseHostPort} but the port is required. */
export function parseListenAddress(text: string): { host: string; port: number } | undefined {
  const parsed = parseHostPort(text);
  return parsed?.port === undefined ? undefined : { host: parsed.host, port: parsed.port };
}

/**
 * One etcd endpoint: `http(s)://host[:port]` with at most a bare trailing `/` (dropped in the
 * result). Paths, queries, fragments and `user:pass@` are rejected: the etcd client would
 * ignore or mangle them, and credentials belong in ETCD_USERNAME/ETCD_PASSWORD.
 */
export function parseEtcdEndpoint(text: string): string | undefined {
  const match = /^(https?):\/\/([^/?#@]+)\/?$/.exec(text);
  if (match === null || parseHostPort(match[2] ?? '') === undefined) {
    return undefined;
  }
  return `${match[1]}://${match[2]}`;
}

/** `unix:///abs/path`, or `tcp|http|https://host:port` (port required, no path). */
export function isDockerHost(text: string): boolean {
  const unix = /^unix:\/\/(\/.*[^/])$/.exec(text);
  if (unix !== null) {
    return true;
  }
  const network = /^(?:tcp|https?):\/\/([^/?#@]+)\/?$/.exec(text);
  return network !== null && parseListenAddress(network[1] ?? '') !== undefined;
}

/**
 * Returns the driver name for a socket path, or undefined when the path is not absolute, its
 * file name is not `<name>.sock`, or it exceeds the unix socket path limit (bind() would fail
 * late with a confusing ENAMETOOLONG/EINVAL otherwise).
 */
export function driverNameOfSocket(path: string): string | undefined {
  if (!path.startsWith('/') || Buffer.byteLength(path, 'utf8') > MAX_SOCKET_PATH_BYTES) {
    return undefined;
  }
  const fileName = path.slice(path.lastIndexOf('/') + 1);
  const name = fileName.slice(0, -'.sock'.length);
  return fileName.endsWith('.sock') && name !== '' ? name : undefined;
}

/** True for an existing regular file this process may read (directories do not count). */
export function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Hides `user:pass@` in URL-like values before they are echoed in an error message. */
export function redactUserinfo(text: string): string {
  return text.replace(/\/\/[^/@]*@/g, '//***@');
}
