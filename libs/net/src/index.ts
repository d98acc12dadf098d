// Framework-free address math for the IPAM driver. Everything works on (family, bigint) pairs so
// IPv4 and IPv6 share one code path; ipaddr.js is only used to parse IPv6 text.
export { Addr, parseIPv4Number, type Family } from './addr.js';
export { NetParseError } from './errors.js';
export { Prefix, intervalOf } from './prefix.js';
export {
  firstFreeSubnet,
  firstFreeSubnetIn,
  sortedIntervals,
  supernetUsage,
  withInterval,
  withoutInterval,
  type SortedIntervals,
} from './subnet.js';
