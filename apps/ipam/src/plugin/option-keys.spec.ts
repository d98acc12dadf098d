import { describe, expect, it } from 'vitest';
import { nearMissOf } from './option-keys.js';

describe('nearMissOf', () => {
  it.each([
    // edge rows first: the known keys themselves, and the empty key
    { key: 'network', near: undefined },
    { key: 'subnet-length', near: undefined },
    { key: 'subnet6-length', near: undefined },
    { key: 'exclude', near: undefined },
    { key: '', near: undefined },
    // case, `_` and `-`
    { key: 'Network', near: 'network' },
    { key: 'subnet_length', near: 'subnet-length' },
    { key: 'SUBNET6_LENGTH', near: 'subnet6-length' },
    { key: 'subnetlength', near: 'subnet-length' },
    // edit distance 1 and 2
    { key: 'netwrok', near: 'network' },
    { key: 'networks', near: 'network' },
    { key: 'netwrk', near: 'network' },
    { key: 'exlude', near: 'exclude' },
    { key: 'excludes', near: 'exclude' },
    { key: 'subnet-lenght', near: 'subnet-length' },
    { key: 'subnet4-length', near: 'subnet-length' },
    // three edits or more: another tool's option, accepted
    { key: 'netmask', near: undefined },
    { key: 'nw', near: undefined },
    { key: 'com.example.owner', near: undefined },
    { key: 'subnet', near: undefined },
  ])('$key -> $near', ({ key, near }) => {
    expect(nearMissOf(key)).toBe(near);
  });
});
