import { randomBytes } from 'node:crypto';

/**
 * An id no other test or run on the shared stack uses: `prefix` + 12 hex digits. Lower-case hex
 * keeps it a valid account id (`^[a-z0-9][a-z0-9_-]{0,62}$`) after a valid prefix.
 */
export const uniqueId = (prefix = 't'): string => `${prefix}${randomBytes(6).toString('hex')}`;

/** A short id for one run of a harness (bench, chaos): base-36 time, so runs sort, plus 4 hex digits. */
export const runId = (): string => `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
