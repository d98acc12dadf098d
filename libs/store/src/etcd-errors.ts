import { isBrokenCircuitError } from 'cockatiel';
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCInvalidArgumentError,
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

/** What a failed etcd call means for the request that made it. */
export type EtcdFailure =
  /** our own client is closed: the process is shutting down */
  | 'closed'
  /** etcd unreachable, no leader, a timeout, every host's circuit open: retried */
  | 'unreachable'
  /** etcd answered "too many requests" (its apply lags behind its commits): retried */
  | 'busy'
  /** the credentials were rejected: every request fails alike */
  | 'credentials'
  /** the user may not use the prefix: every request fails alike */
  | 'permission'
  /** etcd's space quota is full ("database space exceeded"): no write succeeds until compacted */
  | 'quota'
  /** a request or reply exceeds gRPC's message size limit: this request fails alike every time */
  | 'too-large'
  /** etcd refused the request as invalid (too large, too many operations) */
  | 'invalid'
  /** another RESOURCE_EXHAUSTED: not a quota, not a size, and not known to pass */
  | 'exhausted'
  /** not about reaching etcd (a compacted revision, …): the caller's to handle */
  | 'other';

/**
 * Classifies a failed etcd call. etcd3 marks RESOURCE_EXHAUSTED "recoverable", but only etcd's
 * "too many requests" passes with time: a full quota needs an operator, and a message over
 * gRPC's size limit (grpc-js: "Received message larger than max") is the same on every retry.
 * Retrying those until the deadline only hides what happened.
 */
export function classifyEtcdError(err: unknown): EtcdFailure {
  if (err instanceof ClientClosedError) {
    return 'closed';
  }
  if (err instanceof EtcdAuthenticationFailedError || err instanceof GRPCUnauthenticatedError) {
    return 'credentials';
  }
  if (err instanceof EtcdPermissionDeniedError) {
    return 'permission';
  }
  if (err instanceof GRPCResourceExhastedError) {
    if (/database space exceeded/i.test(err.message)) {
      return 'quota';
    }
    if (/too many requests/i.test(err.message)) {
      return 'busy';
    }
    return /larger than max|message too large/i.test(err.message) ? 'too-large' : 'exhausted';
  }
  if (err instanceof GRPCInvalidArgumentError) {
    return 'invalid';
  }
  const transient =
    (err instanceof Error && isRecoverableError(err)) ||
    isBrokenCircuitError(err) ||
    (err instanceof Error &&
      /no leader|leader changed|request timed out|ECONNREFUSED/i.test(err.message));
  return transient ? 'unreachable' : 'other';
}

/** Whether a later attempt may succeed, so the call is retried until the request's deadline. */
export function isRetried(failure: EtcdFailure): boolean {
  return failure === 'unreachable' || failure === 'busy';
}

/**
 * Whether etcd refused this one request for what it holds (its size, its number of operations):
 * a smaller request may pass.
 */
export function refusesThisRequest(failure: EtcdFailure): boolean {
  return failure === 'too-large' || failure === 'invalid';
}

/** Whether no request can succeed until somebody acts: the store is not ready (`/readyz`). */
export function blocksEveryRequest(failure: EtcdFailure): boolean {
  return failure === 'credentials' || failure === 'permission' || failure === 'quota';
}

interface SentenceParts {
  where: string;
  user: string;
  root: string;
  /** etcd's (or gRPC's) own message, scrubbed */
  message: string;
}

/** What each failure tells the operator. */
const SENTENCES: Record<EtcdFailure, (p: SentenceParts) => string> = {
  credentials: (p) => `etcd at ${p.where} rejected the credentials of user ${p.user}`,
  permission: (p) => `etcd at ${p.where} denied access to ${p.root} for user ${p.user}`,
  quota: (p) =>
    `etcd at ${p.where} refused the write: its space quota is full (${p.message}); compact and defragment it`,
  'too-large': (p) =>
    `a message to or from etcd at ${p.where} exceeded gRPC's size limit, and would on every retry: ${p.message}`,
  invalid: (p) => `etcd at ${p.where} refused the request as invalid: ${p.message}`,
  exhausted: (p) => `etcd at ${p.where} refused the request (resource exhausted): ${p.message}`,
  busy: (p) => `etcd at ${p.where} is overloaded: ${p.message}`,
  closed: (p) => `etcd is unreachable at ${p.where}: ${p.message}`,
  unreachable: (p) => `etcd is unreachable at ${p.where}: ${p.message}`,
  other: (p) => `etcd is unreachable at ${p.where}: ${p.message}`,
};

/** One sentence for logs, /readyz and 503 bodies; never a credential. */
export function describeEtcdError(err: unknown, peer: EtcdPeer): string {
  return SENTENCES[classifyEtcdError(err)]({
    where: peer.endpoints.join(','),
    user: peer.username ?? '(none)',
    root: peer.root,
    message: scrub(err instanceof Error ? err.message : String(err), peer.password),
  });
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
