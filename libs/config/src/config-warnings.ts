import type { IpamConfig } from './ipam-config.js';
import { ENV_DEFAULTS } from './ipam-env.js';

/** A host name Docker gives a container: its id, short (12 hex digits) or whole (64). */
const CONTAINER_ID = /^(?:[0-9a-f]{12}|[0-9a-f]{64})$/;

/**
 * Settings that work but that an operator should hear about at start-up, one line each in the
 * `NAME=value: …` form of the configuration errors. Both apps log them at warn level. Never
 * contains the password, nor the value of a variable that is not ours (it may be a secret).
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
  const defaulted = new Set(config.sources?.defaulted ?? []);
  for (const { name, meant } of config.sources?.lookalikes ?? []) {
    const inForce = defaulted.has(meant)
      ? `${meant} is unset, so ${meant === 'NODE_ID' ? 'the host name' : `its default ${ENV_DEFAULTS[meant] ?? ''}`} is used`
      : `${meant} is set and used`;
    warnings.push(`${name} is set but not read: did you mean ${meant}? ${inForce}`);
  }
  if (defaulted.has('NODE_ID') && CONTAINER_ID.test(config.nodeId)) {
    warnings.push(
      `NODE_ID=${config.nodeId}: NODE_ID is unset and the host name looks like a container id. ` +
        'A re-created container gets another one, and the addresses its predecessor holds are ' +
        'never released. Set NODE_ID to a name that stays with this Docker host ' +
        '(e.g. -e NODE_ID=$(hostname) on the host)',
    );
  }
  return warnings;
}
