import { Addr, Prefix } from '#app/net';

/**
 * How a subnet's network address is spelled in its `subnets/` key (libs/store/README.md,
 * "Keys"). IPv4 keeps the dotted quad of the original project (`10.80.0.0`). IPv6 is the address
 * as 32 hex digits (`fd1234567890abcd0000000000000000`): one spelling per network, fixed width,
 * so text order is numeric order and a run of leading digits is a key prefix that holds exactly
 * the networks inside a prefix whose length is a multiple of 4 (the overlap fence below). The
 * RFC 5952 text has neither property (`::` hides a variable number of zero groups).
 */
export function subnetKeyName(subnet: Prefix): string {
  const network = subnet.network();
  return network.family === 4 ? network.toString() : network.value.toString(16).padStart(32, '0');
}

const HEX32_RE = /^[0-9a-f]{32}$/;

/** The network address a `subnets/` key names, or undefined when it is not spelled as we write it. */
export function parseSubnetKeyName(name: string): Addr | undefined {
  if (HEX32_RE.test(name)) {
    return Addr.fromBigInt(6, BigInt(`0x${name}`));
  }
  const addr = name.includes(':') ? undefined : Addr.tryParse(name);
  return addr !== undefined && addr.toString() === name ? addr : undefined;
}

/** The shortest IPv6 pool (libs/allocator refuses shorter ones): no subnet around another is shorter. */
export const MIN_V6_SUBNET_LENGTH = 48;

/**
 * The IPv6 half of KeyLayout.subnetOverlapFence, relative to `subnets/`: a subnet inside `subnet`
 * has a key that starts with the subnet's whole hex digits (4 bits each: a /64 is 16 digits, a
 * /50 rounds down to 12); a subnet around it has one of its shorter masks, from
 * MIN_V6_SUBNET_LENGTH on, as its network address (at most one key per length, those inside the
 * range left out: the range compares them already).
 */
export function v6OverlapFence(subnet: Prefix): { prefix: string; names: string[] } {
  const own = subnetKeyName(subnet);
  const prefix = own.slice(0, Math.floor(subnet.length / 4));
  const names = new Set<string>();
  for (let l = Math.min(MIN_V6_SUBNET_LENGTH, subnet.length); l < subnet.length; l++) {
    const name = subnetKeyName(Prefix.of(subnet.addr, l));
    if (!name.startsWith(prefix)) {
      names.add(name);
    }
  }
  return { prefix, names: [...names] };
}
