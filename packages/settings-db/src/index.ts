// Public API of @settings/db: the schema both the service and the local stack apply.
export { migrateLatest } from './migrate';
export { CDC_SNAPSHOT_COLLECTIONS, checkReplicationSlot, healCdcGaps, recordCdcGap, snapshotSignalData, type HealResult, type SqlRunner } from './cdc-gap';
