import { isBrokenCircuitError } from 'cockatiel';
import {
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  isRecoverableError,
} from 'etcd3';

/** Who the connection talks to, for the sentences below (never a credential). */
export interface EtcdPeer {
  endpoints: readonly string[];
  /** the key prefix (`ETCD_PREFIX`), named when access to it is denied */
  root: string;
  username?: string;
  /** scrubbed from every message */
  password?: string;
}

/** An error a later attempt may not meet: etcd unreachable, no leader, a timeout. */
export function isTransient(err: unknown): boolean {
  return (
    (err instanceof Error && isRecoverableError(err)) ||
    isBrokenCircuitError(err) ||
    (err instanceof Error &&
      /no leader|leader changed|request timed out|ECONNREFUSED/i.test(err.message))
  );
}

/** etcd answered and refused: credentials, permissions or its space. */
export function isStoreRefusal(err: unknown): boolean {
  return (
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof GRPCUnauthenticatedError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof GRPCResourceExhastedError
  );
}

/** One sentence for logs, /readyz and 503 bodies; never a credential. */
export function describeEtcdError(err: unknown, peer: EtcdPeer): string {
  const where = peer.endpoints.join(',');
  const user = peer.username ?? '(none)';
  if (err instanceof EtcdAuthenticationFailedError || err instanceof GRPCUnauthenticatedError) {
    return `etcd at ${where} rejected the credentials of user ${user}`;
  }
  if (err instanceof EtcdPermissionDeniedError) {
    return `etcd at ${where} denied access to ${peer.root} for user ${user}`;
  }
  if (err instanceof GRPCResourceExhastedError) {
    return `etcd at ${where} refused the write: ${scrub(err.message, peer.password)} (is its space quota full? compact and defragment it)`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `etcd is unreachable at ${where}: ${scrub(message, peer.password)}`;
}

/** Removes anything that could be a credential from an etcd error message. */
export function scrub(message: string, password: string | undefined): string {
  // grpc-js ends some messages with an empty "Resolution note:".
  let out = message
    .replace(/\s+/g, ' ')
    .replace(/ ?Resolution note: ?$/, '')
    .trim();
  if (password) {
    out = out.split(password).join('***');
  }
  return out;
}
