/**
 * The one setting the plugin needs before its configuration is fully validated: where to open
 * its socket. Kept free of heavy imports (Nest, class-validator) so that the socket is up within
 * a second of start, while the rest of the process is still loading; the full configuration
 * then validates the same variable and stops the process if it is bad.
 */
export const DEFAULT_SOCKET_PATH = '/run/docker/plugins/kontena-ipam.sock';

/** The socket path, or undefined when it is obviously invalid (the full check reports it). */
export function earlySocketPath(
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  const raw = env.KONTENA_IPAM_SOCKET;
  const path = raw === undefined || raw === '' ? DEFAULT_SOCKET_PATH : raw;
  const ok = path.startsWith('/') && /[^/]\.sock$/.test(path) && Buffer.byteLength(path) <= 107;
  return ok ? path : undefined;
}
