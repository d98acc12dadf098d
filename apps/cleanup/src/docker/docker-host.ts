import type { DockerOptions } from 'dockerode';

/**
 * dockerode's options for a validated DOCKER_HOST (`unix:///path`, `tcp://host:port`,
 * `http://host:port`, `https://host:port`). Every connection field is set, `undefined` included:
 * docker-modem merges these over defaults it reads from the process environment itself, and the
 * validated configuration must win. `tcp://` is plain HTTP as for the docker CLI without
 * DOCKER_TLS_VERIFY; `https://` verifies the daemon against the system's CAs (no client
 * certificate).
 */
export function dockerodeOptions(dockerHost: string, timeoutMs: number): DockerOptions {
  const none = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
  };
  if (dockerHost.startsWith('unix://')) {
    return {
      ...none,
      socketPath: dockerHost.slice('unix://'.length),
      protocol: 'http',
      timeout: timeoutMs,
    };
  }
  const url = new URL(dockerHost);
  return {
    ...none,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port,
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    timeout: timeoutMs,
  };
}
