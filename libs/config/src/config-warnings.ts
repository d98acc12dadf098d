import type { IpamConfig } from './ipam-config.js';

/**
 * Settings that work but that an operator should hear about at start-up, one line each in the
 * `NAME=value: …` form of the configuration errors. Both apps log them at warn level. Never
 * contains the password.
 */
export function configWarnings(config: IpamConfig): string[] {
  const { endpoints, auth } = config.etcd;
  const warnings: string[] = [];
  // The endpoints all share one scheme (a mix is a configuration error).
  if (auth !== undefined && endpoints.some((endpoint) => endpoint.startsWith('http://'))) {
    warnings.push(
      `ETCD_ENDPOINT=${endpoints.join(',')}: ETCD_USERNAME and ETCD_PASSWORD are sent ` +
        'unencrypted over http://; use https:// endpoints (ETCD_CA_FILE for a private CA)',
    );
  }
  return warnings;
}
