/**
 * What PostgreSQL says when our own `statement_timeout` ends a statement (query_canceled, 57014,
 * with this text while lc_messages is English; a translated text is not recognised, and such a
 * cancel is then answered as someone else's: UNAVAILABLE, the safe side).
 */
const STATEMENT_TIMEOUT_TEXT = 'canceling statement due to statement timeout';

/** A statement PostgreSQL ended at our `statement_timeout` (the transactions' SET LOCAL). */
export function endedByStatementTimeout(err: unknown): boolean {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  return e.code === '57014' && (message === STATEMENT_TIMEOUT_TEXT || message.endsWith(` - ${STATEMENT_TIMEOUT_TEXT}`));
}

/**
 * knex's own timer of a statement (`.timeout(ms, { cancel: true })`: reads and the one-statement
 * saves) ended the wait, whether or not its cancel got through. PostgreSQL may have committed a
 * save all the same: a cancel that arrives while the commit waits for a synchronous standby only
 * warns "already committed locally", and one that could not be delivered leaves it running. (A
 * wait for a pool connection times out before anything is sent: not this.)
 */
export function timedOutBySelf(err: unknown): boolean {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { name?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  return (e.name === 'KnexTimeoutError' && !message.includes('acquiring a connection')) || message.includes('cancelling of query failed');
}
