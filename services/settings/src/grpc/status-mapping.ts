import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { Any, BadRequest, Duration, ErrorInfo, RetryInfo, Status } from '@settings/api';
import { InvalidIdError } from '@settings/shared';
import { isConnectionLost, isSystemError, NETWORK_ERRNOS } from '../db/connection-loss';
import { endedByStatementTimeout } from '../db/statement-timeout';
import { echo, SettingsError, type ErrorCode, type FieldViolation } from '../errors';
import { databaseViolationField } from './database-violation-field';

/**
 * The one table from failures to gRPC statuses (AIP-193). Every error leaving a handler passes
 * through `toServiceError`; anything not recognised becomes INTERNAL with a generic message
 * (the details go to the log, not to the caller). INTERNAL means a bug: every failure of the
 * environment (database unreachable, connection lost, statement cancelled by someone else,
 * overload) is UNAVAILABLE or ABORTED with a RetryInfo saying when to try again, except a save
 * whose connection broke after its one statement or COMMIT was sent (WRITE_OUTCOME_UNKNOWN,
 * UNAVAILABLE without RetryInfo: it may have been applied).
 */
export const GRPC_CODE_OF: Record<ErrorCode, GrpcStatus> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  ETAG_MISMATCH: GrpcStatus.ABORTED,
  CONCURRENT_MODIFICATION: GrpcStatus.ABORTED,
  ROW_LOCKED: GrpcStatus.ABORTED,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  LOAD_SHED: GrpcStatus.UNAVAILABLE,
  CALLER_SHARE_EXCEEDED: GrpcStatus.RESOURCE_EXHAUSTED,
  WATCH_LIMIT_EXCEEDED: GrpcStatus.RESOURCE_EXHAUSTED,
  // The replica, not the caller, is at its cap: another replica may have room.
  WATCH_REPLICA_FULL: GrpcStatus.UNAVAILABLE,
  LIST_TOO_LARGE: GrpcStatus.FAILED_PRECONDITION,
  WATCH_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  SHUTTING_DOWN: GrpcStatus.UNAVAILABLE,
  DATABASE_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  WRITE_OUTCOME_UNKNOWN: GrpcStatus.UNAVAILABLE,
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
  // lock_not_available: our own `SET LOCAL lock_timeout` (src/db/db.ts) gave up waiting for a
  // row another transaction holds (a bulk UPDATE, a long psql session). No NOWAIT is used, so
  // this is the only source.
  '55P03': 'ROW_LOCKED',
  // 57014 query_canceled: decided by queryCanceled() below (deadline or someone else's cancel).
  '57P01': 'DATABASE_UNAVAILABLE', // admin_shutdown: pg_terminate_backend, or a smart/fast/immediate shutdown
  '57P02': 'DATABASE_UNAVAILABLE', // crash_shutdown: another backend crashed and the server is resetting
  '57P03': 'DATABASE_UNAVAILABLE', // cannot_connect_now: starting up, shutting down, in recovery
  '57P05': 'DATABASE_UNAVAILABLE', // idle_session_timeout: the server closed a pooled connection
  '53300': 'DATABASE_UNAVAILABLE', // too_many_connections
  '53000': 'DATABASE_UNAVAILABLE', // insufficient_resources (e.g. no background worker slot)
  '53100': 'DATABASE_UNAVAILABLE', // disk_full
  '53200': 'DATABASE_UNAVAILABLE', // out_of_memory (also out of shared memory, e.g. the lock table)
  // read_only_sql_transaction: a session that can only read (a standby, or a read-only setting).
  // New connections to such a server are refused and a session that turns read-only is disposed
  // of (src/db/session-requirements.ts), so a retry connects again, to the new primary once the
  // name points there.
  '25006': 'DATABASE_UNAVAILABLE',
  // idle_in_transaction_session_timeout ended the session between two statements of ours (a
  // process stall): nothing was committed.
  '25P03': 'DATABASE_UNAVAILABLE',
  // Any other code of class 08 (connection_exception), 53 (insufficient_resources), 57P
  // (operator intervention: shutdowns, database dropped) or 58 (system error: I/O on a degraded
  // volume) is DATABASE_UNAVAILABLE too (see classify): the server's state, not the request.
};

/**
 * SQLSTATE classes (prefixes) of a server that cannot serve now, whatever the exact code; 28
 * (invalid authorization: a password rotated ahead of this pod, a pg_hba change) and 3D000 (the
 * database is not there) refuse the connection, not the request.
 */
const UNAVAILABLE_CLASSES = ['08', '53', '57P', '58', '28', '3D000'];

/**
 * knex's read timeout (`.timeout(ms, { cancel: true })`, src/db/db.ts) could not cancel the
 * query (usually because a new connection for pg_cancel_backend failed). The read did exceed the
 * call's deadline; knex replaces the message of the cancel's error with this text.
 */
const KNEX_CANCEL_FAILED = /^After query timeout of \d+ms exceeded, cancelling of query failed\.$/;

/**
 * query_canceled (57014) has two causes. Our own statement_timeout: writes run with
 * `SET LOCAL statement_timeout` = the call's remaining deadline capped by
 * DB_STATEMENT_TIMEOUT_MS (src/db/db.ts answers the cap itself, DATABASE_UNAVAILABLE), so what
 * reaches here is the call out of time → DEADLINE_EXCEEDED. Or a cancel request from someone
 * else (pg_cancel_backend by an operator, a tool or a failover script): nothing is wrong with the
 * request → UNAVAILABLE, retry. (Reads never reach this for their deadline: knex's `.timeout()`
 * rejects them with KnexTimeoutError before the cancelled statement reports back.) PostgreSQL
 * tells the two apart only by the message text (statement-timeout.ts).
 */
function queryCanceled(cause: unknown): SettingsError {
  return endedByStatementTimeout(cause)
    ? new SettingsError('DEADLINE_EXCEEDED', messageFor('DEADLINE_EXCEEDED'), [], { cause })
    : new SettingsError('DATABASE_UNAVAILABLE', 'the database cancelled the statement; retry with backoff', [], { cause });
}

interface PgLikeError {
  code?: unknown;
  table?: unknown;
  constraint?: unknown;
  column?: unknown;
  name?: unknown;
  message?: unknown;
}

/**
 * Classifies any thrown value into the closed list of codes. A SettingsError made here keeps the
 * thrown value as its `cause` (logged, never sent).
 */
export function classify(err: unknown): SettingsError {
  if (err instanceof SettingsError) return err;
  const cause = { cause: err };
  if (err instanceof InvalidIdError) return new SettingsError('INVALID_ARGUMENT', err.message, [{ field: err.field, description: 'malformed id' }], cause);
  const e = (typeof err === 'object' && err !== null ? err : {}) as PgLikeError;
  const message = typeof e.message === 'string' ? e.message : '';
  if (e.name === 'KnexTimeoutError') {
    return message.includes('acquiring a connection')
      ? new SettingsError('DATABASE_UNAVAILABLE', 'database connection pool exhausted; retry with backoff', [], cause)
      : new SettingsError('DEADLINE_EXCEEDED', messageFor('DEADLINE_EXCEEDED'), [], cause);
  }
  if (KNEX_CANCEL_FAILED.test(message)) return new SettingsError('DEADLINE_EXCEEDED', messageFor('DEADLINE_EXCEEDED'), [], cause);
  if (typeof e.code === 'string') {
    if (e.code === '57014') return queryCanceled(err);
    const mapped = SQLSTATE_CODE[e.code];
    if (mapped === 'INVALID_ARGUMENT') {
      const field = databaseViolationField(e.table, e.column, e.constraint);
      return new SettingsError('INVALID_ARGUMENT', 'a value was rejected by the database', [{ field, description: 'rejected by the database: outside what it accepts' }], cause);
    }
    if (mapped) return new SettingsError(mapped, messageFor(mapped), [], cause);
    if (UNAVAILABLE_CLASSES.some((c) => (e.code as string).startsWith(c)) || NETWORK_ERRNOS.has(e.code) || isSystemError(err)) return new SettingsError('DATABASE_UNAVAILABLE', messageFor('DATABASE_UNAVAILABLE'), [], cause);
  } else if (e.code === undefined && err instanceof Error && isConnectionLost(message)) {
    return new SettingsError('DATABASE_UNAVAILABLE', 'lost the database connection; retry with backoff', [], cause);
  }
  return new SettingsError('INTERNAL', 'internal error', [], cause);
}

function messageFor(code: ErrorCode): string {
  switch (code) {
    case 'ALREADY_EXISTS':
      return 'the resource already exists';
    case 'CONCURRENT_MODIFICATION':
      return 'the resource was changed concurrently; re-read and retry';
    case 'ROW_LOCKED':
      return 'the row is locked by another transaction (e.g. a bulk update); retry with backoff';
    case 'DEADLINE_EXCEEDED':
      return 'database query exceeded the call deadline';
    case 'DATABASE_UNAVAILABLE':
      return 'database unavailable; retry with backoff';
    default:
      return code.toLowerCase().replace(/_/g, ' ');
  }
}

export const ERROR_DOMAIN = 'settings.v1.SettingsService';

/**
 * `google.rpc.RetryInfo.retry_delay` per reason: set for exactly the failures where sending the
 * same request again after the delay may succeed, which is every UNAVAILABLE but
 * WRITE_OUTCOME_UNKNOWN, and CONCURRENT_MODIFICATION, ROW_LOCKED, CALLER_SHARE_EXCEEDED and
 * WATCH_LIMIT_EXCEEDED (a unit test checks that no other UNAVAILABLE reason lacks one). A client
 * should wait at least this long and back off further on repeated failures. ETAG_MISMATCH
 * (also ABORTED) has none: the same request fails again until the caller re-reads.
 * WRITE_OUTCOME_UNKNOWN (UNAVAILABLE) has none on purpose: the connection broke after the save's
 * one statement or its COMMIT was sent, so it may have been applied, and a client retries a
 * write only with a RetryInfo (settings-api's retry-policy.ts). Sent again blindly, a committed
 * update came back ETAG_MISMATCH, a committed create ALREADY_EXISTS, and an update without an
 * etag was applied twice.
 */
export const RETRY_DELAY_MS: Readonly<Partial<Record<ErrorCode, number>>> = {
  DATABASE_UNAVAILABLE: 200, // a restart, failover or network blip; long enough not to pile on
  LOAD_SHED: 200, // the fallback queries (Redis down), the write connections (a save burst) or the deliberate-read permits are full; give them time to drain
  SHUTTING_DOWN: 100, // this replica is leaving; the next attempt should reach another one
  CONCURRENT_MODIFICATION: 50, // deadlock/serialization failure: the other writer finishes in ms
  ROW_LOCKED: 250, // someone else's long transaction holds the row; it may take a while
  CALLER_SHARE_EXCEEDED: 100, // this caller's share of deliberate database reads is in use
  WATCH_LIMIT_EXCEEDED: 1000, // the caller's open Watch streams at their cap; streams end slowly
  WATCH_REPLICA_FULL: 1000, // this replica's open Watch streams at their cap; the retry may reach another replica
  WATCH_UNAVAILABLE: 100, // this replica cannot watch (no Redis tracking); another one can
};

/** The longest RetryInfo delay an error's own estimate may ask for. */
export const MAX_RETRY_DELAY_MS = 5000;

/**
 * The RetryInfo delay of `error`: its reason's fixed delay, or the error's own estimate when that
 * is longer (at most MAX_RETRY_DELAY_MS). None for a reason without a fixed delay, whatever the
 * error estimates.
 */
export function retryDelayOf(error: SettingsError): number | undefined {
  const fixed = RETRY_DELAY_MS[error.code];
  if (fixed === undefined) return undefined;
  const own = error.retryDelayMs;
  if (own === undefined || !Number.isFinite(own)) return fixed;
  return Math.round(Math.min(MAX_RETRY_DELAY_MS, Math.max(fixed, own)));
}

/**
 * The longest message, violation field or description sent; longer ones are cut (`echo`). The
 * status travels in the trailers (grpc-message, and grpc-status-details-bin as base64), which a
 * Node client accepts up to 64 KiB; a larger trailer is not an error but a call that hangs until
 * its deadline. At most 43 texts (the message, 21 violations' fields and descriptions) of this
 * many characters (plus the cut's note) stay under 36 KB of UTF-8 at 3 bytes a character, 48 KB
 * as base64.
 */
const MAX_STATUS_TEXT_CHARS = 256;

/** A grpc-js error carrying google.rpc.Status (ErrorInfo, BadRequest, RetryInfo) in the trailers. */
export function toServiceError(error: SettingsError): Partial<ServiceError> {
  const code = GRPC_CODE_OF[error.code];
  const message = echo(error.message, MAX_STATUS_TEXT_CHARS);
  const details: Any[] = [
    { typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(ErrorInfo.encode(ErrorInfo.fromPartial({ reason: error.code, domain: ERROR_DOMAIN })).finish()) },
  ];
  const retryDelayMs = retryDelayOf(error);
  if (retryDelayMs !== undefined) {
    const retryDelay: Duration = { seconds: Math.floor(retryDelayMs / 1000), nanos: (retryDelayMs % 1000) * 1_000_000 };
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()) });
  }
  if (error.fieldViolations.length > 0) {
    const bounded = (v: FieldViolation): FieldViolation => ({ field: echo(v.field, MAX_STATUS_TEXT_CHARS), description: echo(v.description, MAX_STATUS_TEXT_CHARS) });
    const badRequest = BadRequest.fromPartial({ fieldViolations: error.fieldViolations.map(bounded) });
    details.push({ typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from(BadRequest.encode(badRequest).finish()) });
  }
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code, message, details }).finish()));
  return { code, details: message, metadata };
}
