import type { Knex } from 'knex';
import type { Logger } from '@settings/shared';
import { accountSettings } from '../resources/account-settings/account-settings';
import { doctorSettings } from '../resources/doctor-settings/doctor-settings';
import { onPatientSettings } from '../resources/onpatient-settings/onpatient-settings';
import { staffPermission } from '../resources/staff-permissions/staff-permission';

/** The columns this release reads and writes, per table: its resources' keys, version and fields. */
const EXPECTED: ReadonlyArray<{ table: string; columns: readonly string[] }> = [accountSettings, doctorSettings, onPatientSettings, staffPermission].map((r) => ({
  table: r.table.table,
  columns: [...new Set([...r.table.keyColumns, 'version', ...r.fields.map((f) => f.column)])],
}));

/** SQLSTATEs of a schema this release does not fit: undefined table, undefined column. */
const SCHEMA_MISMATCH = new Set(['42P01', '42703']);

/**
 * Whether the database has the tables and columns this release uses, checked at start and then
 * every `retryMs` until it has (`SELECT <columns> FROM <table> LIMIT 0`: no row read). A database
 * that is behind (the app applied before its migration Job, a restore to a backup from before the
 * last migration) fails every cache miss with INTERNAL; the replica then reports not ready, so no
 * traffic is routed to it. An unreachable database is not a mismatch: readiness never depends on
 * PostgreSQL being up (the calls answer UNAVAILABLE with RetryInfo), so it counts as fitting
 * until a check can tell.
 */
export class SchemaCheck {
  private mismatch: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly knex: Knex,
    private readonly log: Logger,
    private readonly onChange: (fits: boolean) => void,
    private readonly retryMs = 5000,
  ) {}

  /** False only while a check found the schema behind this release. */
  get fits(): boolean {
    return this.mismatch === undefined;
  }

  /**
   * Starts checking; resolves when the first check is done, or after `maxWaitMs` (a database
   * that does not answer must not hold the start: readiness does not wait for PostgreSQL). The
   * first verdict usually takes milliseconds, and taking it before serving keeps the check's
   * read connection out of the first calls' way.
   */
  async start(maxWaitMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.check(), new Promise<void>((r) => (timer = setTimeout(r, maxWaitMs)))]);
    clearTimeout(timer);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async check(): Promise<void> {
    let problem: string | undefined;
    let settled = true;
    for (const { table, columns } of EXPECTED) {
      try {
        // Bounded: behind a migration's (or anyone's) ACCESS EXCLUSIVE lock the check gives up
        // (no verdict, tried again later) instead of waiting in the lock queue indefinitely.
        await this.knex.transaction(async (trx) => {
          await trx.raw(`SELECT set_config('lock_timeout', '200ms', true), set_config('statement_timeout', '2000ms', true)`);
          await trx.select(...columns).from(table).limit(0);
        });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && SCHEMA_MISMATCH.has(code)) problem = `${table}: ${(err as Error).message.split(' - ').pop() ?? code}`;
        else settled = false; // not reachable or not answering: no verdict
        break;
      }
    }
    const before = this.mismatch;
    if (problem !== undefined || settled) this.mismatch = problem;
    if (before !== this.mismatch) {
      if (this.mismatch !== undefined) this.log.error({ problem: this.mismatch }, 'the database schema is behind this release (migrations not applied?): not ready until it fits');
      else if (before !== undefined) this.log.info('the database schema fits this release: ready');
      this.onChange(this.fits);
    }
    if (!this.stopped && (this.mismatch !== undefined || !settled)) {
      this.timer = setTimeout(() => void this.check(), this.retryMs);
      this.timer.unref();
    }
  }
}
