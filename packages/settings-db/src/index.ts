// Public API of @settings/db: the schema both the service and the local stack apply.
export { databaseAhead, migrateLatest, MIGRATOR_APPLICATION_NAME, MigrationHistoryMismatchError, MigrationLockTimeoutError, type MigrateOptions, type MigrationLockRetry } from './migrate';
export type { NamedMigration } from './migrations';
