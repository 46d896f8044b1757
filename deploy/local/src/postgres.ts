import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { localStack } from '@settings/shared';
import { componentDir, stateDir } from './state-dir';
import { ensurePortFree } from './port-check';
import { StartupError, waitUntil } from './wait-until';

const COMPONENT = 'postgres';
const isRoot = process.getuid?.() === 0;

/** Newest PostgreSQL server installed from Debian's packages. */
function pgBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new StartupError(COMPONENT, 'no PostgreSQL server found under /usr/lib/postgresql (apt-get install postgresql)');
  versions.sort((a, b) => Number(b) - Number(a));
  return join(root, versions[0]!, 'bin', tool);
}

/**
 * PostgreSQL refuses to run as root, so as root every server command runs as the
 * `postgres` user; the data folder must be reachable by that user. When the checkout sits
 * somewhere `postgres` cannot traverse (e.g. under /root), the data goes to /var/tmp instead.
 */
export function dataDirs(): { home: string; data: string; log: string } {
  let home = componentDir(COMPONENT);
  if (isRoot) {
    const reachable = spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', home]).status === 0;
    if (!reachable) {
      try {
        chownSync(home, uidOf('postgres'), gidOf('postgres'));
      } catch {
        /* fall through to the check below */
      }
    }
    if (spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-w', home]).status !== 0) {
      home = join('/var/tmp', `settings-stack-${createHash('sha1').update(stateDir).digest('hex').slice(0, 10)}`, COMPONENT);
      mkdirSync(home, { recursive: true });
      chownSync(home, uidOf('postgres'), gidOf('postgres'));
    }
  }
  return { home, data: join(home, 'data'), log: join(home, 'postgres.log') };
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}

export function asPostgres(tool: string, args: string[]): { status: number | null; output: string } {
  const [cmd, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', pgBin(tool), ...args]] : [pgBin(tool), args];
  const r = spawnSync(cmd as string, argv as string[], { encoding: 'utf8', cwd: '/tmp' });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

export const postgresLog = (): string => dataDirs().log;

export function postgresRunning(): boolean {
  const { data } = dataDirs();
  return existsSync(join(data, 'PG_VERSION')) && asPostgres('pg_ctl', ['-D', data, 'status']).status === 0;
}

export async function startPostgres(progress: (msg: string) => void): Promise<void> {
  const { data, log } = dataDirs();
  if (!existsSync(join(data, 'PG_VERSION'))) {
    progress('initdb (first run)');
    const r = asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8']);
    if (r.status !== 0) throw new StartupError(COMPONENT, `initdb failed: ${r.output.trim().split('\n').slice(-3).join(' ')}`);
    writeStackConf(data);
    execFileSync('sh', ['-c', `echo "include 'conf.d.settings-stack.conf'" >> '${join(data, 'postgresql.conf')}'`]);
  } else {
    // Rewritten on every start: a data directory made by an older checkout keeps its settings
    // (a port this checkout no longer uses: the start then waited 30 s on the new one and failed).
    writeStackConf(data);
  }
  const port = postgresRunning() ? runningPort(data) : undefined;
  if (port !== undefined && port !== localStack.postgresPort) {
    progress(`running on port ${port}: restarting on ${localStack.postgresPort}`);
    asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  }
  if (!postgresRunning()) {
    await ensurePortFree(COMPONENT, localStack.postgresPort);
    progress('starting');
    const r = asPostgres('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
    if (r.status !== 0) throw new StartupError(COMPONENT, `pg_ctl start failed: ${r.output.trim()}`, log);
  }
  await waitUntil(COMPONENT, 'connections', () => pgQuery('postgres', 'SELECT 1').then(() => true), { timeoutMs: 30_000, log });
  const exists = await pgQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [localStack.database]);
  if (exists.length === 0) await pgQuery('postgres', `CREATE DATABASE ${localStack.database}`);
  const level = await pgQuery(localStack.database, 'SHOW wal_level');
  if (level[0]?.wal_level !== 'logical') throw new StartupError(COMPONENT, `wal_level is ${String(level[0]?.wal_level)}, expected logical`, log);
}

/** The stack's own settings, included from postgresql.conf. Logical decoding for Debezium (pgoutput); a handful of slots/senders is plenty for one connector. */
function writeStackConf(data: string): void {
  const file = join(data, 'conf.d.settings-stack.conf');
  writeFileSync(
    file,
    [
      `port = ${localStack.postgresPort}`,
      "listen_addresses = '127.0.0.1'",
      "unix_socket_directories = '/tmp'",
      'wal_level = logical',
      'max_replication_slots = 10',
      'max_wal_senders = 10',
      // An abandoned slot must not fill the disk of a developer machine.
      'max_slot_wal_keep_size = 1GB',
      'max_connections = 200',
      'shared_buffers = 128MB',
      "log_min_messages = warning",
      '',
    ].join('\n'),
  );
  if (isRoot) chownSync(file, uidOf('postgres'), gidOf('postgres'));
}

/** The port a running server listens on (line 4 of postmaster.pid); undefined when unreadable. */
function runningPort(data: string): number | undefined {
  try {
    const port = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[3]);
    return Number.isInteger(port) ? port : undefined;
  } catch {
    return undefined;
  }
}

export async function stopPostgres(): Promise<void> {
  const { data } = dataDirs();
  if (postgresRunning()) asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
}

/**
 * Stops the server the way a crash or a power cut does (`pg_ctl stop -m immediate`): no
 * checkpoint, every client and the replication connection cut off mid-stream; the next start
 * runs crash recovery. Used by the chaos suite; `startPostgres` brings it back.
 */
export function stopPostgresImmediate(): void {
  const { data, log } = dataDirs();
  if (!postgresRunning()) return;
  const r = asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  if (r.status !== 0) throw new StartupError(COMPONENT, `pg_ctl stop -m immediate failed: ${r.output.trim()}`, log);
}

/** One query as the superuser on its own connection; `port` another server of the stack's (a standby). */
export async function pgQuery(database: string, sql: string, params: unknown[] = [], port: number = localStack.postgresPort): Promise<Array<Record<string, unknown>>> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}
