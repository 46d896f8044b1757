import type { CacheRedisClient } from './cache-redis';
import type { ColumnValues } from '../resources/cached-table';
import { SETTINGS_TABLES, type SettingsTable } from '../resources/settings-tables';
import { auditSamplesKey, type KeySpace } from './key-map';

/**
 * A sampled cache hit, handed from the settings service to the invalidator's staleness auditor
 * through one capped Redis stream (`auditSamplesKey()`). The only write the settings service
 * makes outside the versioned-fill script: an XADD to that fixed, non-entry key, with MAXLEN ~ so
 * the stream's memory is bounded whatever the auditor does. It never touches an entry.
 *
 * Stream fields (all strings): k = cache key, s = key space, v = served entry version,
 * t = when it was served (epoch ms), f = the payload format of the replica that served it
 * (payload-generation.ts; absent from samples of releases before formats existed, which wrote 0).
 */
export interface AuditSample {
  readonly key: string;
  readonly space: KeySpace;
  readonly version: bigint;
  readonly servedAt: number;
  /** The serving replica's payload format of `space`: its entries' generation is judged with it. */
  readonly payloadFormat: number;
}

/** Upper bound of the stream's length (approximate: MAXLEN ~ trims whole radix-tree nodes). */
export const AUDIT_STREAM_MAX_LEN = 10_000;

export function encodeAuditSample(s: AuditSample): string[] {
  return ['k', s.key, 's', s.space, 'v', s.version.toString(), 't', String(s.servedAt), 'f', String(s.payloadFormat)];
}

/** The sample in a stream entry's flat field list, or undefined when malformed or of an unknown space. */
export function decodeAuditSample(fields: readonly string[]): AuditSample | undefined {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
  const [key, space, v, t, format = '0'] = [f.get('k'), f.get('s'), f.get('v'), f.get('t'), f.get('f')];
  if (!key || !space || !v || !t || !/^\d+$/.test(v) || !/^\d+$/.test(t) || !/^\d{1,6}$/.test(format)) return undefined;
  if (!SETTINGS_TABLES.some((d) => d.space === space)) return undefined;
  return { key, space: space as KeySpace, version: BigInt(v), servedAt: Number(t), payloadFormat: Number(format) };
}

/** Appends a sample (one XADD, stream capped at `maxLen`). Callers fire and forget. */
export async function publishAuditSample(redis: CacheRedisClient, sample: AuditSample, maxLen = AUDIT_STREAM_MAX_LEN): Promise<void> {
  await redis.xadd(auditSamplesKey(), 'MAXLEN', '~', String(maxLen), '*', ...encodeAuditSample(sample));
}

/**
 * The table and key column values whose row an entry of `sample.space` caches: the key is parsed
 * back (`v1:{acct:<account>}:<space>[:<id>]...`) and accepted only when the descriptor maps the
 * parsed ids to exactly that key again. Undefined for a key no table produces.
 */
export function auditSampleRow(sample: Pick<AuditSample, 'key' | 'space'>): { table: SettingsTable; ids: Record<string, string> } | undefined {
  const table = SETTINGS_TABLES.find((d) => d.space === sample.space);
  const m = /^v1:\{acct:([^}]+)\}:(.*)$/.exec(sample.key);
  if (!table || !m) return undefined;
  const [space, ...rest] = m[2]!.split(':');
  if (space !== table.space || rest.length !== table.keyColumns.length - 1) return undefined;
  const ids: Record<string, string> = {};
  [m[1]!, ...rest].forEach((id, i) => (ids[table.keyColumns[i]!] = id));
  try {
    if ((table.key as (ids: ColumnValues<string>) => { key: string })(ids).key !== sample.key) return undefined;
  } catch {
    return undefined;
  }
  return { table, ids };
}
