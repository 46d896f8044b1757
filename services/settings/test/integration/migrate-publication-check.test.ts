import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { localMigratorDatabaseUrl } from '@settings/shared';

/**
 * The migration Job's last step in Kubernetes (REQUIRE_PUBLICATION): it fails, and install.sh
 * stops before applying the connector, until the DBA-created publication lists every table the
 * connector streams. Against the local stack's PostgreSQL, whose publication bootstrap.sql made.
 */
const migrateEntry = join(__dirname, '../../dist/src/migrate.js');
const connectorTables = 'public.account_settings,public.doctor_settings,public.staff_permissions,public.staff_permission_lists,public.onpatient_settings,public.debezium_heartbeat,public.debezium_signal';

function migrate(env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [migrateEntry], { env: { ...process.env, DATABASE_URL: localMigratorDatabaseUrl, LOG_LEVEL: 'info', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

describe('settings-migrate with REQUIRE_PUBLICATION', () => {
  it('succeeds when the publication lists every table of the connector', async () => {
    const run = await migrate({ REQUIRE_PUBLICATION: 'settings_cache_pub', REQUIRE_PUBLICATION_TABLES: connectorTables });
    expect(run).toMatchObject({ code: 0 });
    expect(run.output).toContain('publication lists every table the connector streams');
  });

  it('fails naming the missing tables and the DBA step when the publication lacks one (a migration added a table bootstrap.sql has not published yet)', async () => {
    const run = await migrate({ REQUIRE_PUBLICATION: 'settings_cache_pub', REQUIRE_PUBLICATION_TABLES: `${connectorTables},public.cdc_gap` });
    expect(run.code).toBe(1);
    expect(run.output).toContain('does not list public.cdc_gap');
    expect(run.output).toContain('bootstrap.sql again');
  });

  it('fails for a publication that does not exist (a first install before the DBA ran bootstrap.sql again)', async () => {
    const run = await migrate({ REQUIRE_PUBLICATION: 'no_such_publication', REQUIRE_PUBLICATION_TABLES: connectorTables });
    expect(run.code).toBe(1);
    expect(run.output).toContain('does not list public.account_settings');
  });
});
