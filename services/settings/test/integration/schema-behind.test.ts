import { randomBytes } from 'node:crypto';
import knexFactory from 'knex';
import { credentials, makeGenericClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { localAdminDatabaseUrl, localDatabaseRoles, localDatabaseUrl } from '@settings/shared';
import { startTestServer, waitFor, type TestServer } from '../support/test-server';

/**
 * README guarantee: a replica whose database is behind this release (a table or a column it uses
 * is missing: the app applied before its migration Job, a restore to an older backup) is not
 * ready (gRPC health NOT_SERVING for settings.v1.SettingsService, /readyz 503) until the schema
 * fits, and then becomes ready on its own; it stays live all along (the overall status SERVING).
 * Against the local PostgreSQL, with the replica's search_path on a scratch schema of
 * this test's own (the real tables stay untouched): first empty, then with every table but one
 * column, then complete.
 */
const admin = knexFactory({ client: 'pg', connection: localAdminDatabaseUrl, pool: { min: 0, max: 1 } });
const schema = `schema_behind_${randomBytes(4).toString('hex')}`;
const TABLES = ['account_settings', 'doctor_settings', 'onpatient_settings', 'staff_permissions'] as const;
/** A column account settings reads and writes (the resource descriptor's), dropped in the middle phase. */
const MISSING_COLUMN = 'time_zone';

type HealthClient = Client & { check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void };
const HealthCtor = makeGenericClientConstructor(healthService, 'Health');

let server: TestServer | undefined;
let health: HealthClient | undefined;

beforeAll(async () => {
  await admin.raw(`CREATE SCHEMA ${schema}`);
  await admin.raw(`GRANT USAGE ON SCHEMA ${schema} TO ${localDatabaseRoles.app}`);
});

afterAll(async () => {
  health?.close();
  await server?.close();
  await admin.raw(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.destroy();
});

const healthOf = (service: string): Promise<string> => new Promise((resolve, reject) => health!.check({ service }, (err, r) => (err ? reject(err) : resolve(r.status))));

/**
 * Readiness (the service's status, which deploy/k8s's readiness probe asks, and /readyz) and
 * liveness (the overall status "", which the liveness and start-up probes ask: never turned off
 * by the schema, or every replica would be restarted into CrashLoopBackOff until the migration).
 */
async function readiness(): Promise<{ grpc: string; http: number; live: string }> {
  const grpc = await healthOf('settings.v1.SettingsService');
  const http = (await fetch(`http://127.0.0.1:${server!.running.metricsPort}/readyz`)).status;
  return { grpc, http, live: await healthOf('') };
}

it('a replica on a database behind this release is not ready, yet live, until its tables and columns exist, then ready without a restart', async () => {
  const url = new URL(localDatabaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  server = await startTestServer({ DATABASE_URL: url.toString() });
  health = new HealthCtor(`127.0.0.1:${server.running.port}`, credentials.createInsecure()) as unknown as HealthClient;

  // No table at all (undefined_table): not ready from the start.
  expect(await readiness()).toEqual({ grpc: 'NOT_SERVING', http: 503, live: 'SERVING' });

  // Every table, one column short (undefined_column): still not ready after the next check (every 5 s).
  for (const table of TABLES) {
    await admin.raw(`CREATE TABLE ${schema}.${table} (LIKE public.${table} INCLUDING DEFAULTS)`);
    await admin.raw(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${schema}.${table} TO ${localDatabaseRoles.app}`);
  }
  await admin.raw(`ALTER TABLE ${schema}.account_settings DROP COLUMN ${MISSING_COLUMN}`);
  await new Promise((r) => setTimeout(r, 6000));
  expect(await readiness()).toEqual({ grpc: 'NOT_SERVING', http: 503, live: 'SERVING' });

  // The migration's column arrives: ready at the next check, no restart.
  await admin.raw(`ALTER TABLE ${schema}.account_settings ADD COLUMN ${MISSING_COLUMN} text`);
  await waitFor(async () => (await readiness()).grpc === 'SERVING', 8000, 'readiness after the column was added');
  expect(await readiness()).toEqual({ grpc: 'SERVING', http: 200, live: 'SERVING' });
}, 30_000);
