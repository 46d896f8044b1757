/**
 * The incident replay's bulk update, run as its own process like a background worker (the
 * incident's app ran such jobs in Celery), so parsing 100,000 returned rows blocks neither the
 * server under test nor the harness's clock. Child-process entry:
 *   BULK_STRATEGY=ttl-only|delete-on-write|clear-all-on-write BULK_KEY_PREFIX=... \
 *   BULK_REDIS_URL=redis://.../7 DATABASE_URL=... node bulk-job.js
 * `ttl-only` does the UPDATE and nothing else: that is also what a backfill does next to this
 * system (psql, a migration), where the invalidator picks the change up from the WAL.
 * The app-code variants invalidate exactly as their web servers do (legacy-cache.ts).
 * IPC: reports `{ type: 'ready', port: 0 }`; answers `bulkSave` with `{ count, committedAt, file }`
 * (the file lists `account_id<TAB>version` of every updated row).
 */
import { writeFileSync } from 'node:fs';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { LegacySettingsCache, LEGACY_STRATEGIES, type LegacyStrategy } from './legacy-cache';

const strategy = (process.env.BULK_STRATEGY ?? 'ttl-only') as LegacyStrategy;
if (!LEGACY_STRATEGIES.includes(strategy)) throw new Error(`BULK_STRATEGY must be one of ${LEGACY_STRATEGIES.join(', ')}`);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 2, application_name: `bench-bulk-${strategy}` });
const redis = new Redis(process.env.BULK_REDIS_URL ?? '', { maxRetriesPerRequest: 5 });
redis.on('error', () => undefined);
const cache = new LegacySettingsCache({ pool, redis, keyPrefix: process.env.BULK_KEY_PREFIX ?? '', ttlSeconds: 300, strategy });

process.on('message', (msg: { type: string; id: number; likePattern?: string; displayName?: string; outFile?: string }) => {
  if (msg.type === 'bulkSave') {
    cache.bulkSave(msg.likePattern ?? '', msg.displayName ?? '').then(
      // The rows go to a file the harness reads after the measurement, not through IPC.
      (result) => {
        writeFileSync(msg.outFile ?? '', result.rows.map(([id, v]) => `${id}\t${v}\n`).join(''));
        process.send?.({ id: msg.id, result: { count: result.rows.length, committedAt: result.committedAt, file: msg.outFile } });
      },
      (err: unknown) => process.send?.({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
    );
  } else if (msg.type === 'stats') {
    process.send?.({ id: msg.id, result: cache.counters });
  }
});

process.send?.({ type: 'ready', port: 0 });
process.on('SIGTERM', () => {
  void Promise.allSettled([pool.end(), redis.quit()]).then(() => process.exit(0));
});
