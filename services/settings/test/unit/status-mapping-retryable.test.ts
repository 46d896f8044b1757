import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { KnexTimeoutError } from 'knex';
import { DatabaseError } from 'pg';
import { BadRequest, RetryInfo, Status } from '@settings/api';
import { ERROR_CODES, SettingsError, type ErrorCode } from '../../src/errors';
import { lostInFlight } from '../../src/db/connection-loss';
import { UnansweredConnectionError } from '../../src/db/unanswered-connection';
import { UnusableSessionError } from '../../src/db/session-requirements';
import { classify, GRPC_CODE_OF, RETRY_DELAY_MS, toServiceError } from '../../src/grpc/status-mapping';

/**
 * classify() on the error shapes node-postgres and knex really throw. Each is built the way the
 * library builds it (pg-protocol's parseErrorMessage for server errors, `new Error(text)` for
 * pg's client-side connection errors, Node's errno errors, knex's `<sql> - ` prefix); the texts
 * were captured against the local stack (pg 8.23, knex 3.3, PostgreSQL 15, lc_messages C), and
 * test/integration/retryable-errors.test.ts classifies the live ones as well.
 */

/** A server ErrorResponse as pg-protocol's parser turns it into an error (fields S, C, M, F, L, R). */
function pgServerError(code: string, text: string, severity = 'ERROR', routine = 'ProcessInterrupts'): DatabaseError {
  const err = new DatabaseError(text, 0, 'error');
  err.severity = severity;
  err.code = code;
  err.file = 'postgres.c';
  err.routine = routine;
  return err;
}

/** What knex's executeQuery does to every failed statement's error before rethrowing it. */
function viaKnex<E extends Error>(sql: string, err: E): E {
  err.message = `${sql} - ${err.message}`;
  return err;
}

/** A libuv socket error as Node reports it (`err.code` is the errno name). */
function socketError(syscall: string, code: string, errno: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code}`), { errno, code, syscall });
}

interface Case {
  what: string;
  err: () => unknown;
  reason: ErrorCode;
}

const retryable: Case[] = [
  // Connection loss: plain Errors from pg's Client, no SQLSTATE, no errno.
  { what: 'backend terminated mid-transaction (knex reports the failed ROLLBACK)', err: () => viaKnex('ROLLBACK', new Error('Connection terminated unexpectedly')), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'server crashed / stopped -m immediate while a statement ran', err: () => viaKnex('select * from "account_settings" where "account_id" = \'t1\' limit 1 for update', new Error('Connection terminated unexpectedly')), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'connection ended while connecting (no knex prefix)', err: () => new Error('Connection terminated unexpectedly'), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'socket dropped, then ROLLBACK on the broken client', err: () => viaKnex('ROLLBACK', new Error('Client has encountered a connection error and is not queryable')), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'client ended with a query queued (pool disposal / shutdown)', err: () => viaKnex('select 1', new Error('Connection terminated')), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'query on a client being closed', err: () => viaKnex('select 1', new Error('Client was closed and is not queryable')), reason: 'DATABASE_UNAVAILABLE' },
  { what: "pg-pool's wait for a connection timed out", err: () => new Error('timeout exceeded when trying to connect'), reason: 'DATABASE_UNAVAILABLE' },
  {
    what: "pg-pool's connect attempt timed out",
    err: () => new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated') }),
    reason: 'DATABASE_UNAVAILABLE',
  },
  // Connection loss and refusal reported by the socket (errno codes).
  { what: 'ECONNRESET while reading a result', err: () => viaKnex('SELECT pg_sleep(2)', socketError('read', 'ECONNRESET', -104)), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'ECONNREFUSED: nothing listens (server down)', err: () => socketError('connect', 'ECONNREFUSED', -111), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'EPIPE writing to a closed socket', err: () => socketError('write', 'EPIPE', -32), reason: 'DATABASE_UNAVAILABLE' },
  // Any system error of Node (it names its syscall), not only the errnos listed: ephemeral ports
  // used up under connection churn, a network or host down.
  { what: 'EADDRNOTAVAIL connecting (no ephemeral port left)', err: () => socketError('connect', 'EADDRNOTAVAIL', -99), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'ENETDOWN connecting', err: () => socketError('connect', 'ENETDOWN', -100), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'ENETDOWN while reading a result (an interface going down mid-answer)', err: () => viaKnex('update "account_settings" set "display_name" = $1', socketError('read', 'ENETDOWN', -100)), reason: 'DATABASE_UNAVAILABLE' },
  // Node 20 tries every address of a host (autoSelectFamily); when all fail it reports an
  // AggregateError with the first errno as its code and no syscall of its own.
  {
    what: 'every address of the database host failed to connect (AggregateError)',
    err: () => Object.assign(new AggregateError([socketError('connect', 'EADDRNOTAVAIL', -99), socketError('connect', 'EADDRNOTAVAIL', -99)], 'every connect attempt to db.internal failed'), { code: 'EADDRNOTAVAIL' }),
    reason: 'DATABASE_UNAVAILABLE',
  },
  // pg's Client connect timeout (connectionTimeoutMillis) as tarn hands it to every waiter but the first.
  { what: 'pg Client connect attempt timed out (a silent server), propagated by tarn', err: () => new Error('timeout expired'), reason: 'DATABASE_UNAVAILABLE' },
  // Refused at connect: a password rotated ahead of this pod, a pg_hba change, a database renamed.
  { what: '28P01 password authentication failed', err: () => pgServerError('28P01', 'password authentication failed for user "settings_service"', 'FATAL', 'auth_failed'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '28000 no pg_hba.conf entry', err: () => pgServerError('28000', 'no pg_hba.conf entry for host', 'FATAL', 'ClientAuthentication'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '3D000 database does not exist', err: () => pgServerError('3D000', 'database "settings" does not exist', 'FATAL', 'InitPostgres'), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'ETIMEDOUT connecting', err: () => socketError('connect', 'ETIMEDOUT', -110), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'EAI_AGAIN: DNS of the database host temporarily failing', err: () => socketError('getaddrinfo', 'EAI_AGAIN', -3001), reason: 'DATABASE_UNAVAILABLE' },
  // Server-side shutdown, crash, overload (SQLSTATE).
  { what: '57P01 pg_terminate_backend / fast or immediate shutdown', err: () => viaKnex('select 1', pgServerError('57P01', 'terminating connection due to administrator command', 'FATAL')), reason: 'DATABASE_UNAVAILABLE' },
  { what: '57P02 crash of another backend', err: () => pgServerError('57P02', 'terminating connection because of crash of another server process', 'WARNING', 'quickdie'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '57P03 server starting up', err: () => pgServerError('57P03', 'the database system is starting up', 'FATAL', 'ProcessStartupPacket'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '57P05 idle session timeout', err: () => pgServerError('57P05', 'terminating connection due to idle-session timeout', 'FATAL'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '53300 too many connections', err: () => pgServerError('53300', 'sorry, too many clients already', 'FATAL', 'InitProcessPhase2'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '53000 insufficient resources', err: () => pgServerError('53000', 'could not resize shared memory segment "/PostgreSQL.1" to 8388608 bytes: No space left on device', 'ERROR', 'dsm_impl_posix_resize'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '53100 disk full', err: () => viaKnex('update "account_settings" set "display_name" = $1', pgServerError('53100', 'could not extend file "base/5/16384": No space left on device', 'ERROR', 'mdextend')), reason: 'DATABASE_UNAVAILABLE' },
  { what: '53200 out of memory', err: () => pgServerError('53200', 'out of memory', 'ERROR', 'AllocSetAlloc'), reason: 'DATABASE_UNAVAILABLE' },
  // After a failover a pooled connection still reaches the demoted primary, now read-only.
  { what: '58030 I/O error on a degraded volume', err: () => pgServerError('58030', 'could not read block 0 in file "base/16384/16390": Input/output error', 'ERROR', 'mdread'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '53400 configuration limit exceeded', err: () => pgServerError('53400', 'temporary file size exceeds temp_file_limit', 'ERROR', 'FileWriteback'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '57P04 database dropped', err: () => pgServerError('57P04', 'terminating connection because the database was dropped', 'FATAL', 'ProcessInterrupts'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '25P03 idle-in-transaction timeout between two statements', err: () => pgServerError('25P03', 'terminating connection due to idle-in-transaction timeout', 'FATAL', 'ProcessInterrupts'), reason: 'DATABASE_UNAVAILABLE' },
  { what: 'a new connection refused: its sessions are read-only (session-requirements.ts)', err: () => new UnusableSessionError('the server is a standby (in recovery)'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '25006 read-only transaction on a demoted primary', err: () => viaKnex('update "account_settings" set "display_name" = $1', pgServerError('25006', 'cannot execute UPDATE in a read-only transaction', 'ERROR', 'PreventCommandIfReadOnly')), reason: 'DATABASE_UNAVAILABLE' },
  { what: '08006 connection_failure', err: () => pgServerError('08006', 'connection failure', 'FATAL', 'pq_getbyte'), reason: 'DATABASE_UNAVAILABLE' },
  { what: '08P01 protocol_violation', err: () => pgServerError('08P01', 'invalid frontend message type 0', 'FATAL', 'SocketBackend'), reason: 'DATABASE_UNAVAILABLE' },
  // Statement cancellation by someone else.
  { what: '57014 from pg_cancel_backend (user request)', err: () => viaKnex('SELECT 1', pgServerError('57014', 'canceling statement due to user request')), reason: 'DATABASE_UNAVAILABLE' },
  {
    what: '57014 with a translated message (cannot be told from a cancel: UNAVAILABLE, the safe side)',
    err: () => viaKnex('SELECT 1', pgServerError('57014', 'storniere Anfrage wegen Zeitüberschreitung der Anfrage')),
    reason: 'DATABASE_UNAVAILABLE',
  },
  // Pool exhaustion (knex/tarn).
  {
    what: 'KnexTimeoutError acquiring a connection (pool exhausted)',
    err: () => new KnexTimeoutError('Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?'),
    reason: 'DATABASE_UNAVAILABLE',
  },
  // Concurrency.
  { what: '40P01 deadlock', err: () => pgServerError('40P01', 'deadlock detected', 'ERROR', 'DeadLockReport'), reason: 'CONCURRENT_MODIFICATION' },
  { what: '40001 serialization failure', err: () => pgServerError('40001', 'could not serialize access due to concurrent update', 'ERROR', 'ExecUpdate'), reason: 'CONCURRENT_MODIFICATION' },
  // Our own SET LOCAL lock_timeout: a save blocked by someone else's transaction gives up.
  { what: '55P03 lock timeout', err: () => viaKnex('SELECT 1', pgServerError('55P03', 'canceling statement due to lock timeout', 'ERROR', 'ProcessInterrupts')), reason: 'ROW_LOCKED' },
];

const notRetryable: Case[] = [
  // The call's own deadline.
  { what: '57014 from our SET LOCAL statement_timeout', err: () => viaKnex('SELECT 1', pgServerError('57014', 'canceling statement due to statement timeout')), reason: 'DEADLINE_EXCEEDED' },
  { what: "knex's read timeout (cancelled with pg_cancel_backend)", err: () => new KnexTimeoutError('Defined query timeout of 40ms exceeded when running query.'), reason: 'DEADLINE_EXCEEDED' },
  {
    what: "knex's read timeout whose cancel failed",
    // knex: Object.assign(cancelError, { message: ..., sql, bindings, timeout })
    err: () => Object.assign(new Error('Connection terminated unexpectedly'), { message: 'After query timeout of 40ms exceeded, cancelling of query failed.', sql: 'select 1', bindings: [], timeout: 40 }),
    reason: 'DEADLINE_EXCEEDED',
  },
  // Bugs stay INTERNAL.
  { what: 'a TypeError', err: () => new TypeError("Cannot read properties of undefined (reading 'version')"), reason: 'INTERNAL' },
  { what: 'a syntax error (42601)', err: () => viaKnex('selec 1', pgServerError('42601', 'syntax error at or near "selec"', 'ERROR', 'scanner_yyerror')), reason: 'INTERNAL' },
  { what: 'an undefined column (42703)', err: () => pgServerError('42703', 'column "nope" does not exist', 'ERROR', 'errorMissingColumn'), reason: 'INTERNAL' },
  { what: 'a thrown string, not an Error', err: () => 'Connection terminated unexpectedly', reason: 'INTERNAL' },
  { what: 'an Error that only mentions the text mid-message', err: () => new Error('Connection terminated unexpectedly? no: parser state corrupt'), reason: 'INTERNAL' },
  {
    what: 'a server error (with SQLSTATE) whose message ends like a connection loss is judged by its SQLSTATE',
    err: () => pgServerError('XX000', 'cache lookup failed - Connection terminated', 'ERROR', 'elog'),
    reason: 'INTERNAL',
  },
  { what: 'a knex "query is empty" error', err: () => new Error('The query is empty'), reason: 'INTERNAL' },
];

/** The google.rpc.Status a caller would decode from grpc-status-details-bin. */
function statusOf(error: SettingsError): Status {
  const raw = toServiceError(error).metadata!.get('grpc-status-details-bin')[0] as Buffer;
  return Status.decode(raw);
}

function retryDelayMs(error: SettingsError): number | undefined {
  const any = statusOf(error).details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo');
  if (!any) return undefined;
  const { retryDelay } = RetryInfo.decode(any.value);
  return retryDelay ? retryDelay.seconds * 1000 + retryDelay.nanos / 1e6 : 0;
}

describe('classify: retryable failures are UNAVAILABLE/ABORTED with RetryInfo', () => {
  it.each(retryable.map((c) => [c.what, c] as const))('%s', (_what, c) => {
    const thrown = c.err();
    const error = classify(thrown);
    expect(error.code).toBe(c.reason);
    expect([GrpcStatus.UNAVAILABLE, GrpcStatus.ABORTED]).toContain(toServiceError(error).code);
    expect(retryDelayMs(error)).toBeGreaterThan(0);
    expect(error.cause).toBe(thrown);
    // Nothing of the original (SQL, values, host names) reaches the caller.
    expect(toServiceError(error).details).not.toContain(String((thrown as Error).message ?? thrown));
  });
});

describe('classify: deadlines and bugs are not retryable', () => {
  it.each(notRetryable.map((c) => [c.what, c] as const))('%s', (_what, c) => {
    const thrown = c.err();
    const error = classify(thrown);
    expect(error.code).toBe(c.reason);
    expect(retryDelayMs(error)).toBeUndefined();
    expect(error.cause).toBe(thrown);
  });
});

/**
 * A save whose commit was sent (db.ts) and then fails this way is WRITE_OUTCOME_UNKNOWN: the
 * connection ended with the statement's answer outstanding. Every other retryable failure is an
 * answer from PostgreSQL (the statement failed) or came before anything was sent.
 */
const LOST_IN_FLIGHT = new Set([
  'backend terminated mid-transaction (knex reports the failed ROLLBACK)',
  'server crashed / stopped -m immediate while a statement ran',
  'connection ended while connecting (no knex prefix)',
  'client ended with a query queued (pool disposal / shutdown)',
  'ECONNRESET while reading a result',
  'ECONNREFUSED: nothing listens (server down)',
  'EPIPE writing to a closed socket',
  // Any system error once the statement was out: the write may have been applied.
  'EADDRNOTAVAIL connecting (no ephemeral port left)',
  'ENETDOWN connecting',
  'ENETDOWN while reading a result (an interface going down mid-answer)',
  'every address of the database host failed to connect (AggregateError)',
  'ETIMEDOUT connecting',
  'EAI_AGAIN: DNS of the database host temporarily failing',
  '57P01 pg_terminate_backend / fast or immediate shutdown',
  '57P02 crash of another backend',
  '08006 connection_failure',
  '08P01 protocol_violation',
]);

describe('lostInFlight: which failures of a save whose commit was sent leave its outcome unknown', () => {
  it.each(retryable.map((c) => [c.what, c] as const))('%s', (what, c) => {
    expect(lostInFlight(c.err())).toBe(LOST_IN_FLIGHT.has(what));
  });

  it('the service closing a silent connection (unanswered-connection.ts) is one; a SettingsError or a bug is not', () => {
    expect(lostInFlight(new UnansweredConnectionError('PostgreSQL did not answer within 1300 ms; connection closed'))).toBe(true);
    expect(lostInFlight(new SettingsError('DEADLINE_EXCEEDED', 'x'))).toBe(false);
    for (const c of notRetryable) expect({ what: c.what, lost: lostInFlight(c.err()) }).toEqual({ what: c.what, lost: false });
  });
});

describe('RetryInfo on the wire', () => {
  it('every UNAVAILABLE reason but WRITE_OUTCOME_UNKNOWN, CONCURRENT_MODIFICATION, ROW_LOCKED, CALLER_SHARE_EXCEEDED and WATCH_LIMIT_EXCEEDED carry a positive retry_delay; no other reason carries one', () => {
    for (const code of ERROR_CODES) {
      const delay = retryDelayMs(new SettingsError(code, 'x'));
      const shouldRetry = (GRPC_CODE_OF[code] === GrpcStatus.UNAVAILABLE && code !== 'WRITE_OUTCOME_UNKNOWN') || ['CONCURRENT_MODIFICATION', 'ROW_LOCKED', 'CALLER_SHARE_EXCEEDED', 'WATCH_LIMIT_EXCEEDED'].includes(code);
      if (shouldRetry) expect({ code, delay }).toEqual({ code, delay: RETRY_DELAY_MS[code] });
      if (shouldRetry) expect(delay).toBeGreaterThan(0);
      else expect({ code, delay }).toEqual({ code, delay: undefined });
    }
  });

  it('WRITE_OUTCOME_UNKNOWN: UNAVAILABLE with ErrorInfo and no RetryInfo (the save may have been applied: settings-api does not send it again)', () => {
    const status = statusOf(new SettingsError('WRITE_OUTCOME_UNKNOWN', 'x'));
    expect(status.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(status.details.map((d) => d.typeUrl)).toEqual(['type.googleapis.com/google.rpc.ErrorInfo']);
  });

  it('DATABASE_UNAVAILABLE: retry_delay 200 ms as google.protobuf.Duration, next to ErrorInfo', () => {
    const status = statusOf(new SettingsError('DATABASE_UNAVAILABLE', 'database unavailable; retry with backoff'));
    expect(status.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(status.details.map((d) => d.typeUrl)).toEqual(['type.googleapis.com/google.rpc.ErrorInfo', 'type.googleapis.com/google.rpc.RetryInfo']);
    expect(RetryInfo.decode(status.details[1]!.value)).toEqual({ retryDelay: { seconds: 0, nanos: 200_000_000 } });
  });

  it("an error's own delay (LOAD_SHED: the queue ahead's drain time) replaces its reason's fixed one when longer, up to 5 s", () => {
    expect(retryDelayMs(new SettingsError('LOAD_SHED', 'x', [], { retryDelayMs: 1234.4 }))).toBe(1234);
    expect(retryDelayMs(new SettingsError('LOAD_SHED', 'x', [], { retryDelayMs: 3_000_500 }))).toBe(5000);
    // Never shorter than the fixed delay, and a missing estimate keeps it.
    expect(retryDelayMs(new SettingsError('LOAD_SHED', 'x', [], { retryDelayMs: 20 }))).toBe(RETRY_DELAY_MS.LOAD_SHED);
    expect(retryDelayMs(new SettingsError('LOAD_SHED', 'x', [], { retryDelayMs: undefined }))).toBe(RETRY_DELAY_MS.LOAD_SHED);
  });

  it('an own delay never makes a reason without RetryInfo retryable (WRITE_OUTCOME_UNKNOWN, ETAG_MISMATCH)', () => {
    expect(retryDelayMs(new SettingsError('WRITE_OUTCOME_UNKNOWN', 'x', [], { retryDelayMs: 1000 }))).toBeUndefined();
    expect(retryDelayMs(new SettingsError('ETAG_MISMATCH', 'x', [], { retryDelayMs: 1000 }))).toBeUndefined();
  });
});

describe('error text on the wire is bounded', () => {
  it('no message, violation field or description over 256 characters is sent, so the trailer stays small', () => {
    const long = 'x'.repeat(40_000);
    const error = new SettingsError('INVALID_ARGUMENT', long, Array.from({ length: 21 }, () => ({ field: long, description: long })));
    const wire = toServiceError(error);
    expect(wire.details).toBe(`${'x'.repeat(256)}…(40000 characters)`);
    const status = statusOf(error);
    expect(status.message).toBe(wire.details);
    const badRequest = BadRequest.decode(status.details.find((d) => d.typeUrl === 'type.googleapis.com/google.rpc.BadRequest')!.value);
    for (const v of badRequest.fieldViolations) expect({ field: v.field.length, description: v.description.length }).toEqual({ field: 275, description: 275 });
    expect((wire.metadata!.get('grpc-status-details-bin')[0] as Buffer).length).toBeLessThan(16 * 1024);
  });
});

describe('SettingsError cause', () => {
  it('keeps the wrapped error as the ES2022 cause and leaves it unset otherwise', () => {
    const original = new Error('Connection terminated unexpectedly');
    expect(new SettingsError('DATABASE_UNAVAILABLE', 'x', [], { cause: original }).cause).toBe(original);
    expect(new SettingsError('NOT_FOUND', 'x').cause).toBeUndefined();
    expect('cause' in new SettingsError('NOT_FOUND', 'x')).toBe(false);
  });

  it('classify passes a SettingsError through unchanged', () => {
    const e = new SettingsError('LOAD_SHED', 'shed');
    expect(classify(e)).toBe(e);
  });
});

describe('the error contract in settings_service.proto', () => {
  it('names every ABORTED reason and WRITE_OUTCOME_UNKNOWN, so callers can tell "redo the read-modify-write" from "send it again" from "read before writing"', () => {
    const proto = readFileSync(join(__dirname, '../../../../proto/settings/v1/settings_service.proto'), 'utf8');
    const aborted = ERROR_CODES.filter((code) => GRPC_CODE_OF[code] === GrpcStatus.ABORTED);
    expect(aborted.length).toBeGreaterThan(0);
    for (const reason of [...aborted, 'WRITE_OUTCOME_UNKNOWN']) expect({ reason, named: proto.includes(reason) }).toEqual({ reason, named: true });
  });
});

describe('classify: a value PostgreSQL refused names the request field, never a constraint or table', () => {
  const refused = (code: string, fields: { table?: string; column?: string; constraint?: string }) => Object.assign(pgServerError(code, 'new row violates a constraint', 'ERROR', 'ExecConstraints'), fields);
  it.each([
    ['a column CHECK (PostgreSQL names it <table>_<column>_check, numbered when taken)', refused('23514', { table: 'onpatient_settings', constraint: 'onpatient_settings_welcome_message_check1' }), 'onpatient_settings.welcome_message'],
    ['a nested field\'s column', refused('23514', { table: 'account_settings', constraint: 'account_settings_billing_statement_due_days_check' }), 'account_settings.billing.statement_due_days'],
    ['a not-null violation (PostgreSQL reports the column)', refused('23502', { table: 'doctor_settings', column: 'specialty' }), 'doctor_settings.specialty'],
    ['a constraint named otherwise: the resource', refused('23514', { table: 'staff_permissions', constraint: 'grants_are_sane' }), 'staff_permission'],
    ['a table of no resource', refused('23514', { table: 'staff_permission_audit', constraint: 'x_check' }), 'request'],
  ])('%s', (_what, err, field) => {
    const e = classify(err);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.fieldViolations).toEqual([{ field, description: 'rejected by the database: outside what it accepts' }]);
  });
});
