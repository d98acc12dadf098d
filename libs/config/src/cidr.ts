import ipaddr from 'ipaddr.js';

export type Ipv4CidrParse =
  | {
      ok: true;
      /** The address as written, canonical (four-part decimal). */
      address: string;
      /** The network address of the range (host bits cleared). */
      network: string;
      prefixLength: number;
    }
  | { ok: false; reason: 'ipv6' | 'syntax' };

/**
 * Parses `a.b.c.d/len` strictly: four-part decimal without leading zeros (ipaddr.js alone
 * would also accept `10.80`, `0xa.0.0.0` or octal `010.0.0.0`) and a decimal prefix length
 * 0–32. Kept local on purpose so that this lib has no dependency on `libs/net`.
 */
export function parseIpv4Cidr(text: string): Ipv4CidrParse {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  if (addressText.includes(':') && ipaddr.IPv6.isValid(addressText)) {
    return { ok: false, reason: 'ipv6' };
  }
  const prefixText = slash < 0 ? '' : text.slice(slash + 1);
  if (!/^(?:0|[1-9]\d?)$/.test(prefixText) || !ipaddr.IPv4.isValidFourPartDecimal(addressText)) {
    return { ok: false, reason: 'syntax' };
  }
  const prefixLength = Number(prefixText);
  if (prefixLength > 32) {
    return { ok: false, reason: 'syntax' };
  }
  const address = ipaddr.IPv4.parse(addressText);
  const mask = ipaddr.IPv4.subnetMaskFromPrefixLength(prefixLength).octets;
  const network = new ipaddr.IPv4(address.octets.map((octet, i) => octet & (mask[i] ?? 0)));
  return { ok: true, address: address.toString(), network: network.toString(), prefixLength };
}
