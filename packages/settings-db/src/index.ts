// Public API of @settings/db: the schema both the service and the local stack apply.
export { migrateLatest } from './migrate';
