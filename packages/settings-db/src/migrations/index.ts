import type { Knex } from 'knex';
import * as settingsVersion from './0001_settings_version';
import * as accountSettings from './0002_account_settings';
import * as doctorSettings from './0003_doctor_settings';
import * as onpatientSettings from './0004_onpatient_settings';
import * as staffPermissions from './0005_staff_permissions';
import * as staffPermissionAudit from './0006_staff_permission_audit';
import * as debeziumHeartbeat from './0007_debezium_heartbeat';
import * as cdcHeal from './0008_cdc_heal';
import * as staffListTruncate from './0009_staff_list_truncate';
import * as versionTriggersAlways from './0010_version_triggers_always';
import * as triggerSearchPath from './0011_trigger_search_path';

export interface NamedMigration extends Knex.Migration {
  /** Recorded in knex_migrations; never rename one that has shipped. */
  readonly name: string;
  /** Read by knex (missing from its types); migrateLatest refuses `transaction: false`. */
  readonly config?: { readonly transaction?: boolean };
}

// Static imports instead of knex's directory scan, so the same list works from ts source
// (tsx, ts-jest) and from compiled dist/ without extension or path juggling. Append only.
// Migrations use knex.raw without bindings, yet the pg client still turns every `?` into a
// bind parameter, even inside SQL string literals: write optional regex groups as `{0,1}`.
export const migrations: readonly NamedMigration[] = [
  { name: '0001_settings_version', ...settingsVersion },
  { name: '0002_account_settings', ...accountSettings },
  { name: '0003_doctor_settings', ...doctorSettings },
  { name: '0004_onpatient_settings', ...onpatientSettings },
  { name: '0005_staff_permissions', ...staffPermissions },
  { name: '0006_staff_permission_audit', ...staffPermissionAudit },
  { name: '0007_debezium_heartbeat', ...debeziumHeartbeat },
  { name: '0008_cdc_heal', ...cdcHeal },
  { name: '0009_staff_list_truncate', ...staffListTruncate },
  { name: '0010_version_triggers_always', ...versionTriggersAlways },
  { name: '0011_trigger_search_path', ...triggerSearchPath },
];

export class SettingsMigrationSource implements Knex.MigrationSource<NamedMigration> {
  constructor(private readonly list: readonly NamedMigration[] = migrations) {}

  async getMigrations(): Promise<NamedMigration[]> {
    return [...this.list];
  }

  getMigrationName(migration: NamedMigration): string {
    return migration.name;
  }

  async getMigration(migration: NamedMigration): Promise<Knex.Migration> {
    return migration;
  }
}
