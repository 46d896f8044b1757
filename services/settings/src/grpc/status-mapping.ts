import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Any, BadRequest, ErrorInfo, Status } from '@settings/api';
import { InvalidIdError } from '@settings/shared';
import { SettingsError, type ErrorCode, type FieldViolation } from '../errors';

/**
 * The one table from failures to gRPC statuses (AIP-193). Every error leaving a handler passes
 * through `toServiceError`; anything not recognised becomes INTERNAL with a generic message
 * (the details go to the log, not to the caller).
 */
export const GRPC_CODE_OF: Record<ErrorCode, GrpcStatus> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  ETAG_MISMATCH: GrpcStatus.ABORTED,
  CONCURRENT_MODIFICATION: GrpcStatus.ABORTED,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  LOAD_SHED: GrpcStatus.UNAVAILABLE,
  SHUTTING_DOWN: GrpcStatus.UNAVAILABLE,
  DATABASE_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  INTERNAL: GrpcStatus.INTERNAL,
};

/** PostgreSQL SQLSTATEs that reach callers as something other than INTERNAL. */
const SQLSTATE_CODE: Record<string, ErrorCode> = {
  '23514': 'INVALID_ARGUMENT', // check_violation: validation should have caught it first
  '22P02': 'INVALID_ARGUMENT', // invalid_text_representation
  '22021': 'INVALID_ARGUMENT', // character_not_in_repertoire (e.g. NUL in text)
  '22001': 'INVALID_ARGUMENT', // string_data_right_truncation
  '23502': 'INVALID_ARGUMENT', // not_null_violation
  '23505': 'ALREADY_EXISTS', // unique_violation
  '40001': 'CONCURRENT_MODIFICATION', // serialization_failure
  '40P01': 'CONCURRENT_MODIFICATION', // deadlock_detected
  '55P03': 'CONCURRENT_MODIFICATION', // lock_not_available
  '57014': 'DEADLINE_EXCEEDED', // query_canceled: statement_timeout from the call deadline
  '57P01': 'DATABASE_UNAVAILABLE', // admin_shutdown
  '57P03': 'DATABASE_UNAVAILABLE', // cannot_connect_now
  '53300': 'DATABASE_UNAVAILABLE', // too_many_connections
};

const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

interface PgLikeError {
  code?: unknown;
  constraint?: unknown;
  column?: unknown;
  name?: unknown;
  message?: unknown;
}

/** Classifies any thrown value into the closed list of codes. */
export function classify(err: unknown): SettingsError {
  if (err instanceof SettingsError) return err;
  if (err instanceof InvalidIdError) return new SettingsError('INVALID_ARGUMENT', err.message, [{ field: err.field, description: 'malformed id' }]);
  const e = (typeof err === 'object' && err !== null ? err : {}) as PgLikeError;
  if (e.name === 'KnexTimeoutError') {
    return String(e.message).includes('acquiring a connection')
      ? new SettingsError('DATABASE_UNAVAILABLE', 'database connection pool exhausted; retry with backoff')
      : new SettingsError('DEADLINE_EXCEEDED', 'database query exceeded the call deadline');
  }
  if (typeof e.code === 'string') {
    const mapped = SQLSTATE_CODE[e.code];
    if (mapped === 'INVALID_ARGUMENT') {
      const field = typeof e.constraint === 'string' ? e.constraint : typeof e.column === 'string' ? e.column : 'request';
      return new SettingsError('INVALID_ARGUMENT', 'a value was rejected by the database', [{ field, description: `violates ${field}` }]);
    }
    if (mapped) return new SettingsError(mapped, messageFor(mapped));
    if (e.code.startsWith('08') || NETWORK_ERRNOS.has(e.code)) return new SettingsError('DATABASE_UNAVAILABLE', messageFor('DATABASE_UNAVAILABLE'));
  }
  return new SettingsError('INTERNAL', 'internal error');
}

function messageFor(code: ErrorCode): string {
  switch (code) {
    case 'ALREADY_EXISTS':
      return 'the resource already exists';
    case 'CONCURRENT_MODIFICATION':
      return 'the resource was changed concurrently; re-read and retry';
    case 'DEADLINE_EXCEEDED':
      return 'database query exceeded the call deadline';
    case 'DATABASE_UNAVAILABLE':
      return 'database unavailable; retry with backoff';
    default:
      return code.toLowerCase().replace(/_/g, ' ');
  }
}

export const ERROR_DOMAIN = 'settings.v1.SettingsService';

/** A grpc-js error carrying google.rpc.Status (with ErrorInfo and BadRequest) in the trailers. */
export function toServiceError(error: SettingsError): Partial<ServiceError> {
  const code = GRPC_CODE_OF[error.code];
  const details: Any[] = [
    { typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(ErrorInfo.encode(ErrorInfo.fromPartial({ reason: error.code, domain: ERROR_DOMAIN })).finish()) },
  ];
  if (error.fieldViolations.length > 0) {
    const badRequest = BadRequest.fromPartial({ fieldViolations: error.fieldViolations.map((v: FieldViolation) => ({ field: v.field, description: v.description })) });
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from(BadRequest.encode(badRequest).finish()) });
  }
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code, message: error.message, details }).finish()));
  return { code, details: error.message, metadata };
}
