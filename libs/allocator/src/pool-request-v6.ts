import {
  InvalidRequest,
  MAX_V6_POOL_LENGTH,
  MIN_V6_POOL_LENGTH,
  v6NoContainerRange,
  type PoolRequest,
} from '#app/ipam';
import type { Prefix } from '#app/net';

/**
 * The checks of an IPv6 RequestPool (`V6: true`) that need no etcd (README, "IPv6 and dual
 * stack"): Pool and SubPool are IPv6 prefixes from /48 to /120 without host bits, outside the
 * ranges where no address can serve a container, and SubPool lies inside Pool. The checks both
 * families share (the name, SubPool without Pool) come first, in checkPoolRequest.
 */
export function checkV6PoolRequest(req: PoolRequest): void {
  if (req.subnet) {
    checkIPv6Subnet(req.subnet, 'Pool');
    const special = v6NoContainerRange(req.subnet);
    if (special) {
      throw new InvalidRequest(
        `Pool ${req.subnet.toString()} overlaps ${special.range.toString()}, ${special.what}, where no address can serve a container`,
      );
    }
  }
  if (req.range) {
    checkIPv6Subnet(req.range, 'SubPool');
  }
}

function checkIPv6Subnet(prefix: Prefix, field: string): void {
  const text = prefix.toString();
  if (prefix.family !== 6) {
    throw new InvalidRequest(
      `${field} ${text} is IPv4, but V6 is true: an IPv6 network (--ipv6) takes an IPv6 --subnet`,
    );
  }
  if (prefix.length < MIN_V6_POOL_LENGTH || prefix.length > MAX_V6_POOL_LENGTH) {
    throw new InvalidRequest(
      `${field} ${text} has prefix length /${prefix.length}: IPv6 pools must be /${MIN_V6_POOL_LENGTH} to /${MAX_V6_POOL_LENGTH}`,
    );
  }
  if (prefix.hasHostBits()) {
    throw new InvalidRequest(
      `${field} ${text} has host bits set: did you mean ${prefix.masked().toString()}?`,
    );
  }
}
