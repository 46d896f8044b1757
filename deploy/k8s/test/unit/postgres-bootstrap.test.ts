import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, readConnectorEnv, readSharedConnector, connectorOverlays } from '../../lib/connector';

// deploy/postgres/bootstrap.sql (the DBA's roles, grants and publication) keeps up with the
// migrations: every table and sequence they create is granted, the publication lists exactly
// the connector's tables, and the file is safe to run again. (The SQL itself was run against
// PostgreSQL 15 before and after the migrations, twice; see deploy/postgres/README.md.)

const sql = readFileSync(join(REPO_ROOT, 'deploy', 'postgres', 'bootstrap.sql'), 'utf8');
const code = sql.replace(/--.*$/gm, '');
const migrationsDir = join(REPO_ROOT, 'packages', 'settings-db', 'src', 'migrations');
const migrations = readdirSync(migrationsDir).filter((f) => /^\d{4}_.*\.ts$/.test(f)).map((f) => readFileSync(join(migrationsDir, f), 'utf8').replace(/--.*$/gm, '')).join('\n');

const tables = [...migrations.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)/g)].map((m) => m[1]!);
const sequences = [
  ...[...migrations.matchAll(/CREATE SEQUENCE (?:IF NOT EXISTS )?([a-z_]+)/g)].map((m) => m[1]!),
  // bigserial/serial columns own an implicit <table>_<column>_seq.
  ...[...migrations.matchAll(/CREATE TABLE ([a-z_]+) \(([\s\S]*?)\n\s*\);/g)].flatMap((m) => [...m[2]!.matchAll(/^\s*([a-z_]+) (?:big|small)?serial\b/gm)].map((c) => `${m[1]}_${c[1]}_seq`)),
];
const arrayIn = (name: string): string[] => {
  const m = new RegExp(`${name} text\\[\\] := ARRAY\\[([^\\]]*)\\]`).exec(code);
  if (!m) throw new Error(`bootstrap.sql declares no ${name}`);
  return [...m[1]!.matchAll(/'([a-z_]+)'/g)].map((x) => x[1]!);
};

test('the migrations were parsed (tables, the version sequence, serial sequences)', () => {
  expect(tables).toEqual(expect.arrayContaining(['account_settings', 'staff_permission_audit', 'debezium_heartbeat']));
  expect(sequences).toEqual(expect.arrayContaining(['settings_version_seq', 'staff_permission_audit_id_seq']));
});

test('every table the migrations create is granted to the service (Debezium’s heartbeat table to Debezium)', () => {
  const appTables = arrayIn('app_tables');
  const debeziumTables = ['debezium_heartbeat', 'debezium_signal', 'cdc_gap'];
  expect(tables.filter((t) => !debeziumTables.includes(t) && !appTables.includes(t))).toEqual([]);
  expect(appTables.filter((t) => !tables.includes(t))).toEqual([]);
  expect(code).toMatch(/GRANT SELECT, INSERT, UPDATE ON TABLE public\.debezium_heartbeat TO debezium_settings/);
  // CDC gap heal: the signal table and the gap log, for the replication role only.
  expect(code).toMatch(/GRANT SELECT, INSERT ON TABLE public\.debezium_signal TO debezium_settings/);
  expect(code).toMatch(/GRANT SELECT, INSERT, UPDATE ON TABLE public\.cdc_gap TO debezium_settings/);
});

test('every sequence is usable by the service: the version trigger calls nextval as the writing role', () => {
  const appSequences = arrayIn('app_sequences');
  expect(sequences.filter((s) => !appSequences.includes(s))).toEqual([]);
  expect(code).toMatch(/GRANT USAGE, SELECT ON SEQUENCE public\.%I TO settings_app/);
  expect(code).toMatch(/ALTER DEFAULT PRIVILEGES FOR ROLE settings_owner IN SCHEMA public\s+GRANT USAGE, SELECT ON SEQUENCES TO settings_app/);
  expect(code).toMatch(/ALTER DEFAULT PRIVILEGES FOR ROLE settings_owner IN SCHEMA public\s+GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO settings_app/);
});

test('the owner can create in schema public (PostgreSQL 15+); the replication user gets no DDL and no owner membership', () => {
  expect(code).toMatch(/GRANT USAGE, CREATE ON SCHEMA public TO settings_owner/);
  expect(code).toMatch(/CREATE ROLE debezium_settings LOGIN REPLICATION/);
  expect(code).not.toMatch(/GRANT settings_owner TO/);
  expect(code).not.toMatch(/GRANT (CREATE|ALL)[^;]*TO [^;]*debezium_settings/);
});

test('the publication lists exactly the connector’s table.include.list, which runs as the DBA-created one', () => {
  const connector = readSharedConnector().config;
  const include = connector['table.include.list']!.split(',').map((t) => t.trim().replace(/^public\./, ''));
  expect(arrayIn('published').sort()).toEqual([...include].sort());
  expect(code).toContain(`pubname = '${connector['publication.name']}'`);
  // filtered: uses the DBA's publication when its tables match, fails loudly (no ownership) otherwise.
  expect(connector['publication.autocreate.mode']).toBe('filtered');
  expect(code).toMatch(/publish = %L\)', 'insert, update, delete, truncate'/);
});

test('the migration Job refuses to finish until the publication lists every table the connector streams (its name and tables are the connector’s)', () => {
  const connector = readSharedConnector().config;
  const job = readFileSync(join(__dirname, '../../migrate/job.yaml'), 'utf8');
  const value = (name: string): string | undefined => new RegExp(`- name: ${name}\\n\\s+value: (\\S+)`).exec(job)?.[1];
  expect(value('REQUIRE_PUBLICATION')).toBe(connector['publication.name']);
  expect(value('REQUIRE_PUBLICATION_TABLES')?.split(',')).toEqual(connector['table.include.list']!.split(',').map((t) => t.trim()));
});

test('the roles the overlays connect as are the ones bootstrap.sql creates', () => {
  for (const dir of connectorOverlays()) expect(code).toContain(`CREATE ROLE ${readConnectorEnv(dir).config['database.user']} LOGIN`);
  for (const role of ['settings_owner', 'settings_app', 'settings_monitor']) expect(code).toMatch(new RegExp(`CREATE ROLE ${role} LOGIN;`));
});

test('idempotent: every CREATE is guarded, nothing is dropped', () => {
  const statements = code.split(/\$\$/).filter((_, i) => i % 2 === 0).join('\n'); // outside DO bodies
  expect(statements).not.toMatch(/\bCREATE (ROLE|PUBLICATION|TABLE|SCHEMA)\b/);
  expect(code).not.toMatch(/\bDROP\b/);
  for (const m of code.matchAll(/CREATE ROLE (\w+)/g)) expect(code).toContain(`rolname = '${m[1]}'`);
  expect(code).toMatch(/IF NOT EXISTS \(SELECT FROM pg_publication WHERE pubname/);
});

test('documents wal_level and max_slot_wal_keep_size, and checks them', () => {
  expect(sql).toMatch(/ALTER SYSTEM SET wal_level = 'logical'/);
  expect(sql).toMatch(/ALTER SYSTEM SET max_slot_wal_keep_size/);
  expect(code).toMatch(/current_setting\('wal_level'\)/);
  expect(code).toMatch(/current_setting\('max_slot_wal_keep_size'\)/);
});
