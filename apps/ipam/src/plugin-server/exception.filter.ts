import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Inject,
  Logger,
} from '@nestjs/common';
import type { ServerResponse } from 'node:http';

import { IpamError, type IpamErrorCode } from '#app/ipam';
import { ipamConfig, type IpamConfig } from '#app/config';

import { writeError } from './json-wire.js';

/**
 * 400 for every refusal, 503 only when etcd stayed unreachable (never retried by dockerd, which
 * shows the Err: moby/moby pkg/plugins/client.go).
 */
export function statusOfIpamError(code: IpamErrorCode): number {
  switch (code) {
    case 'invalid-request':
    case 'unsupported':
    case 'pool-not-found':
    case 'pool-mismatch':
    case 'subnet-conflict':
    case 'supernet-exhausted':
    case 'address-out-of-range':
    case 'address-in-use':
    case 'pool-exhausted':
      return HttpStatus.BAD_REQUEST;
    case 'store-unavailable':
      return HttpStatus.SERVICE_UNAVAILABLE;
    default:
      return unknownCode(code);
  }
}

/** Compile-time exhaustiveness: a new IpamErrorCode without a status does not type-check. */
function unknownCode(code: never): never {
  throw new Error(`unmapped IpamErrorCode ${String(code)}`);
}

export interface MappedError {
  status: number;
  message: string;
  /** Set for a 500: the failure is a bug, its stack belongs in the log. */
  bug?: unknown;
}

function httpExceptionMessage(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') {
    return response;
  }
  const message = (response as { message?: unknown }).message;
  if (typeof message === 'string') {
    return message;
  }
  if (Array.isArray(message) && message.every((m) => typeof m === 'string')) {
    return message.join('; ');
  }
  return exception.message;
}

export function mapException(exception: unknown): MappedError {
  if (exception instanceof IpamError) {
    return { status: statusOfIpamError(exception.code), message: exception.message };
  }
  if (exception instanceof HttpException) {
    return { status: exception.getStatus(), message: httpExceptionMessage(exception) };
  }
  const message = exception instanceof Error ? exception.message : String(exception);
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    message: `internal error: ${message}`,
    bug: exception,
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Turns every failure of a plugin call into `{"Err", "Error"}`: typed domain errors by their
 * code, Nest's HTTP exceptions (404 unknown method, 400 invalid DTO) by their own status,
 * anything else is a bug and a 500.
 */
@Catch()
export class IpamExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('IpamExceptionFilter');
  /** Matches etcd keys under ETCD_PREFIX, which must never reach Docker (its log shows Err). */
  private readonly keyPattern: RegExp | undefined;

  constructor(@Inject(ipamConfig.KEY) config: IpamConfig) {
    const prefix = config.etcd.prefix;
    this.keyPattern =
      prefix === '' ? undefined : new RegExp(`${escapeRegExp(prefix)}(?:/[^\\s"',;]*)?`, 'g');
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const mapped = mapException(exception);
    // Domain errors are written without keys; this is a cheap second line of defence for errors
    // that come from deeper down (etcd3, grpc) with a key in their text.
    const message =
      this.keyPattern === undefined
        ? mapped.message
        : mapped.message.replace(this.keyPattern, '<etcd key>');
    if (mapped.bug !== undefined) {
      const stack = mapped.bug instanceof Error ? mapped.bug.stack : undefined;
      this.logger.error(message, stack);
    }
    writeError(res, mapped.status, message);
  }
}
