/**
 * What is used here of a node-postgres Client (the connection knex lends): its socket. pg has no
 * public way to drop a connection without a goodbye to the server; pg itself ends a connect
 * attempt that ran past `connectionTimeoutMillis` the same way (`con.stream.destroy(…)`).
 */
interface PgClientSocket {
  readonly connection?: { readonly stream?: { destroy(error?: Error): void } };
}

/**
 * A connection closed because PostgreSQL did not answer in time; an errno, so classify() maps it to
 * DATABASE_UNAVAILABLE (WRITE_OUTCOME_UNKNOWN for a save whose commit was sent: connection-loss.ts).
 */
export class UnansweredConnectionError extends Error {
  readonly code = 'ETIMEDOUT';
}

export interface UnansweredGuard {
  /** Rejects with UnansweredConnectionError when the connection is closed; never settles once disarmed. */
  readonly cut: Promise<never>;
  disarm(): void;
}

/**
 * Closes `connection` if it is still in use `afterMs` from now. A partition, a frozen VM or a
 * database host that vanished in a failover leaves the socket open and silent: PostgreSQL's own
 * timeouts (statement_timeout, lock_timeout) never report back, knex's query timeout sends its
 * cancel on a new connection that hangs as well, and the kernel gives up on the socket only
 * after its TCP retransmission timeout (about 15 minutes on Linux). Until then the call would
 * hold its pool connection and its place in write admission, and a pool of such connections
 * stays dead after a failover. Closing the socket fails the statement in flight with
 * UnansweredConnectionError; pg reports the error to knex, which marks the connection disposed,
 * so the pool drops it instead of lending it again.
 */
export function closeIfUnanswered(connection: unknown, afterMs: number, onCut: (error: UnansweredConnectionError) => void): UnansweredGuard {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      timer = undefined;
      const error = new UnansweredConnectionError(`PostgreSQL did not answer within ${afterMs} ms; connection closed`);
      (connection as PgClientSocket).connection?.stream?.destroy(error);
      onCut(error);
      reject(error);
    }, Math.max(0, afterMs));
    // A guard never keeps the process alive: at shutdown the pools are destroyed anyway.
    timer.unref();
  });
  // Raced by the caller; handled here too, so a cut nobody races is not an unhandled rejection.
  cut.catch(() => undefined);
  return {
    cut,
    disarm() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
