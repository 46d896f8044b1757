/**
 * What the workload did in one scenario: successful writes and reads, and failures by name —
 * the gRPC status name for calls to the service (UNAVAILABLE, DEADLINE_EXCEEDED, …), `sql:<SQLSTATE>`
 * or `sql:<error>` for the psql writers. Failures during a fault are expected; they are
 * counted, never thrown.
 */
export class Tally {
  writes = 0;
  /** Reads answered, NOT_FOUND included (a key whose row churn removed is an answer, not a failure). */
  reads = 0;
  notFound = 0;
  readonly errors: Record<string, number> = {};

  error(name: string): void {
    this.errors[name] = (this.errors[name] ?? 0) + 1;
  }

  toJSON(): { writes: number; reads: number; notFound: number; errors: Record<string, number> } {
    return { writes: this.writes, reads: this.reads, notFound: this.notFound, errors: { ...this.errors } };
  }
}
