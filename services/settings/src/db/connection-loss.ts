import { SettingsError } from '../errors';

// How node-postgres and Node report a connection to PostgreSQL that failed or broke: what
// grpc/status-mapping.ts maps to DATABASE_UNAVAILABLE, and, for a save whose commit was sent,
// what Db (db.ts) answers WRITE_OUTCOME_UNKNOWN instead (lostInFlight).

/** Node.js socket and DNS errnos (`err.code`) of a connection that failed or broke. */
export const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * node-postgres reports a lost connection with a plain Error: no SQLSTATE, no errno. These are
 * its exact texts (pg 8 Client, pg-pool 3). knex prefixes the failed statement
 * (`<sql> - <text>`), so a text must be the whole message or its end after ` - `. Only errors
 * without any `code` are matched by text, so a database error that quotes a value never is.
 * First the texts of a statement that was in flight: sent, its answer lost (lostInFlight).
 */
const LOST_IN_FLIGHT_MESSAGES = [
  // The socket ended although we never called end() on the client: the server crashed or was
  // stopped (`pg_ctl stop -m immediate`), the network dropped, or the backend was terminated.
  // Inside a knex transaction this is what the call sees even when PostgreSQL sent FATAL 57P01
  // first: knex rejects the transaction with the error of its ROLLBACK, which runs on the dead
  // connection ("ROLLBACK - Connection terminated unexpectedly", captured with
  // pg_terminate_backend; see test/integration/retryable-errors.test.ts).
  'Connection terminated unexpectedly',
  // The socket ended after end() was called, with queries still queued on the client or the one
  // sent still unanswered (knex disposing of a broken connection, or the pool being destroyed
  // at shutdown).
  'Connection terminated',
];

/** Then those of a statement pg never sent: it fails a query on a broken or closing client before writing anything. */
const NOT_SENT_MESSAGES = [
  // A query sent on a client whose socket had already failed, e.g. knex's ROLLBACK after the
  // connection broke mid-transaction (captured through a TCP proxy that dropped the socket).
  'Client has encountered a connection error and is not queryable',
  // A query sent on a client that is being closed (same causes as 'Connection terminated').
  'Client was closed and is not queryable',
  // pg-pool's wait for a connection timed out / its connect attempt timed out. knex uses its own
  // pool (tarn; that case is classify's KnexTimeoutError); kept so a pg.Pool user maps the same.
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
  // pg's Client connect attempt timed out (connectionTimeoutMillis): a PostgreSQL that accepts
  // TCP and never answers, or an address gone dark. knex (through tarn's propagateCreateError)
  // hands this raw error to every waiter but the first, whose own acquire timer fires first:
  // unmatched, each of them was answered INTERNAL.
  'timeout expired',
];

const endsWithOneOf = (message: string, texts: readonly string[]): boolean => texts.some((text) => message === text || message.endsWith(` - ${text}`));

export function isConnectionLost(message: string): boolean {
  return endsWithOneOf(message, LOST_IN_FLIGHT_MESSAGES) || endsWithOneOf(message, NOT_SENT_MESSAGES);
}

/**
 * Whether `err` ended the connection while a statement PostgreSQL may have run was in flight, so
 * that its outcome never came back: the connection broke or was closed (an errno, pg's texts of
 * a statement in flight, class 08, the guard's cut: unanswered-connection.ts), or the server
 * ended the session (57P01/57P02: a backend terminated while it waits for synchronous
 * replication has committed locally). Errors PostgreSQL answered the statement with (57014,
 * 53xxx, 25006, …) say it failed, and do not count. Db answers a save WRITE_OUTCOME_UNKNOWN for
 * these once its one statement or its COMMIT has been sent.
 */
export function lostInFlight(err: unknown): boolean {
  if (err instanceof SettingsError || typeof err !== 'object' || err === null) return false;
  // Any socket error of Node once the statement was out (an interface going down mid-answer:
  // ENETDOWN, EHOSTDOWN), not only the listed errnos: classify calls every system error
  // retryable, and a save that may have been applied must never be.
  if (isSystemError(err)) return true;
  const { code } = err as { code?: unknown };
  if (typeof code === 'string') return NETWORK_ERRNOS.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02';
  return code === undefined && err instanceof Error && endsWithOneOf(err.message, LOST_IN_FLIGHT_MESSAGES);
}

/**
 * A system error of Node (it names its syscall): the network or the host, never the request.
 * Also the AggregateError Node reports when every address of a host failed to connect
 * (autoSelectFamily, on by default since Node 20): its `code` is the first attempt's errno and it
 * has no syscall, but each error inside does.
 */
export function isSystemError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (typeof (err as { syscall?: unknown }).syscall === 'string') return true;
  return err instanceof AggregateError && err.errors.length > 0 && err.errors.every((e) => isSystemError(e));
}
