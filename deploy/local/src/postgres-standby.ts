import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { localStack } from '@settings/shared';
import { freePort } from './free-port';
import { uniqueId } from './unique-id';
import { asPostgres, dataDirs, pgQuery } from './postgres';
import { StartupError, waitUntil } from './wait-until';

const COMPONENT = 'postgres-standby';

/** A hot standby of the local stack's PostgreSQL, for tests of what a failover leaves behind. */
export interface PostgresStandby {
  readonly port: number;
  /** `postgres://<user>@127.0.0.1:<port>/<database>` (the stack trusts local connections). */
  url(user: string): string;
  /** `SELECT pg_is_in_recovery()` on it. */
  inRecovery(): Promise<boolean>;
  /** Waits until it has replayed everything the primary had committed when this was called. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** `pg_ctl promote`, waiting until it accepts writes: what a failover does to the standby. */
  promote(): Promise<void>;
  /** Stops it and deletes its data folder. */
  remove(): Promise<void>;
}

/**
 * Starts a streaming-replication standby of the stack's primary on a free port: `pg_basebackup
 * -R` into a folder beside the primary's data, then `pg_ctl start` with the port overridden (the
 * copied configuration names the primary's). No replication slot, so a standby left behind by a
 * killed test holds no WAL on the primary. Takes a few seconds on the stack's small database.
 */
export async function startPostgresStandby(): Promise<PostgresStandby> {
  const { home } = dataDirs();
  const data = join(home, `standby-${uniqueId('s')}`);
  const log = `${data}.log`;
  const port = await freePort();
  const backup = asPostgres('pg_basebackup', ['-h', '127.0.0.1', '-p', String(localStack.postgresPort), '-U', 'postgres', '-D', data, '-R', '-X', 'stream', '-c', 'fast']);
  if (backup.status !== 0) throw new StartupError(COMPONENT, `pg_basebackup failed: ${backup.output.trim()}`);
  const started = asPostgres('pg_ctl', ['-D', data, '-l', log, '-o', `-p ${port}`, '-w', '-t', '60', 'start']);
  if (started.status !== 0) throw new StartupError(COMPONENT, `pg_ctl start failed: ${started.output.trim()}`, log);

  const query = async <R>(sql: string, on: 'standby' | 'primary' = 'standby'): Promise<R[]> =>
    (await pgQuery(localStack.database, sql, [], on === 'standby' ? port : localStack.postgresPort)) as R[];
  await waitUntil(COMPONENT, 'connections', () => query('SELECT 1').then(() => true), { timeoutMs: 30_000, log });
  const inRecovery = async (): Promise<boolean> => (await query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r'))[0]?.r === true;
  return {
    port,
    url: (user) => `postgres://${user}@127.0.0.1:${port}/${localStack.database}`,
    inRecovery,
    async caughtUp(timeoutMs = 15_000) {
      const [target] = await query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn', 'primary');
      const replayed = async (): Promise<boolean> => (await query<{ ok: boolean }>(`SELECT pg_last_wal_replay_lsn() >= '${target!.lsn}'::pg_lsn AS ok`))[0]?.ok === true;
      await waitUntil(COMPONENT, `replay up to ${target!.lsn}`, replayed, { timeoutMs, log });
    },
    async promote() {
      const r = asPostgres('pg_ctl', ['-D', data, '-w', '-t', '60', 'promote']);
      if (r.status !== 0) throw new StartupError(COMPONENT, `pg_ctl promote failed: ${r.output.trim()}`, log);
      await waitUntil(COMPONENT, 'promotion', async () => !(await inRecovery()), { timeoutMs: 30_000, log });
    },
    async remove() {
      if (existsSync(join(data, 'postmaster.pid'))) asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      rmSync(data, { recursive: true, force: true });
      rmSync(log, { force: true });
    },
  };
}
