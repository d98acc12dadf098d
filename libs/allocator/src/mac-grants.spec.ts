import { describe, expect, it } from 'vitest';
import { MacGrants } from './mac-grants.js';

const hex = (n: number): string => n.toString(16).padStart(2, '0');
const mac = (i: number): string => `02:42:00:00:${hex(i >> 8)}:${hex(i & 255)}`;

describe('MacGrants', () => {
  it('should answer the latest address granted to a MAC until it is released', () => {
    const grants = new MacGrants();
    expect(grants.get('02:42:00:00:00:01')).toBeUndefined();
    grants.remember('02:42:00:00:00:01', '10.80.0.5');
    expect(grants.get('02:42:00:00:00:01')).toBe('10.80.0.5');
    grants.forget('10.80.0.5');
    expect(grants.get('02:42:00:00:00:01')).toBeUndefined();
  });

  it('should keep one address per MAC and one MAC per address', () => {
    const grants = new MacGrants();
    grants.remember('02:42:00:00:00:01', '10.80.0.5');
    grants.remember('02:42:00:00:00:01', '10.80.0.6');
    grants.remember('02:42:00:00:00:02', '10.80.0.6');
    expect(grants.get('02:42:00:00:00:01')).toBeUndefined();
    expect(grants.get('02:42:00:00:00:02')).toBe('10.80.0.6');
    grants.forget('10.80.0.5'); // no longer anybody's: changes nothing
    expect(grants.get('02:42:00:00:00:02')).toBe('10.80.0.6');
  });

  it('should forget the oldest grant past 4,096', () => {
    const grants = new MacGrants();
    for (let i = 0; i <= 4096; i++) {
      grants.remember(mac(i), `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    }
    expect(grants.get(mac(0))).toBeUndefined();
    expect(grants.get(mac(1))).toBe('10.0.0.1');
    expect(grants.get(mac(4096))).toBe('10.0.16.0');
  });
});
