/** How many grants one pool remembers; the oldest is forgotten first. */
const MAX_GRANTS = 4096;

/**
 * This node's latest grants in one pool, by MAC: a dynamic RequestAddress that repeats one of
 * them (dockerd sending again a request whose reply was lost) is first offered the same address.
 * Only a hint, kept in memory: the claim's transaction decides, and after a restart of the
 * plugin a repeated dynamic request gets a new address (the first is a leak for the cleanup).
 */
export class MacGrants {
  private readonly ipByMac = new Map<string, string>();
  private readonly macByIp = new Map<string, string>();

  get(mac: string): string | undefined {
    return this.ipByMac.get(mac);
  }

  remember(mac: string, ip: string): void {
    this.forget(ip);
    const previous = this.ipByMac.get(mac);
    if (previous !== undefined) {
      this.forget(previous);
    }
    this.ipByMac.set(mac, ip);
    this.macByIp.set(ip, mac);
    if (this.ipByMac.size > MAX_GRANTS) {
      const [oldest] = this.macByIp.keys();
      if (oldest !== undefined) {
        this.forget(oldest);
      }
    }
  }

  /** The address was released (or found taken by another): no longer a grant to repeat. */
  forget(ip: string): void {
    const mac = this.macByIp.get(ip);
    if (mac !== undefined) {
      this.macByIp.delete(ip);
      this.ipByMac.delete(mac);
    }
  }
}
