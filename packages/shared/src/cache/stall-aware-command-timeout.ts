import { Command } from 'ioredis';

/**
 * The parts of a command this uses: its public state, and ioredis' own timer field (private in
 * its types), which its `_clearTimers()` clears when the command settles.
 */
interface TimedCommand {
  isResolved: boolean;
  reject(err: Error): void;
  _commandTimeoutTimer?: NodeJS.Timeout;
}

let installed = false;

/**
 * ioredis' `commandTimeout`, made blind to this process's own stalls.
 *
 * ioredis arms one timer per command. When the event loop was blocked for longer than the
 * timeout (GC, a CPU-starved host, a burst of work), the timer and the reply become due
 * together, and Node runs timers before it reads sockets: the command fails "timed out" although
 * its reply has arrived (measured: 10 of 20 commands under a 300 ms stall with a 100 ms timeout).
 * In the settings service each false timeout counts against the circuit breaker (reads go to
 * PostgreSQL) and a tracking PING that "fails" drops the whole near-cache: both under load,
 * exactly when reads should stay on Redis (the incident's mechanism). Here the timer's verdict
 * waits for `setImmediate`, which runs after the poll phase has read what the sockets hold; a
 * reply that is there settles the command first. A Redis that does not answer still fails after
 * the timeout plus one turn of the loop.
 *
 * Replaces `Command.prototype.setTimeout` (public, and what ioredis calls with
 * `commandTimeout`) once per process; keeps ioredis' timer field so it still clears the timer
 * when the command settles. Every ioredis client of the process gets it, which is the point.
 */
export function installStallAwareCommandTimeout(): void {
  if (installed) return;
  installed = true;
  Command.prototype.setTimeout = function setStallAwareTimeout(this: Command, ms: number): void {
    const command = this as unknown as TimedCommand;
    if (command._commandTimeoutTimer) return;
    command._commandTimeoutTimer = setTimeout(() => {
      setImmediate(() => {
        if (!command.isResolved) command.reject(new Error('Command timed out'));
      });
    }, ms);
  };
}
