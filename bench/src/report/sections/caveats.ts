/** What the numbers do not say: the shared machine, server-wide counters, how stale is judged. */
export function caveatsSection(md: string[]): void {
  md.push('## Caveats', '');
  md.push(
    '- **Shared, noisy machine.** Two cores run PostgreSQL, Redis, Kafka, Kafka Connect, the services, the load generators and sometimes other engineers\' tests. Absolute numbers move between runs; the ratios (measured side by side, interleaved) are the numbers to compare.',
    '- **Server-wide counters.** Redis ops/s (INFO `total_commands_processed`) and PostgreSQL xacts/s (`pg_stat_database.xact_commit`) count every client of the shared stack; each variant reports the background rate measured just before it. PostgreSQL flushes its counters about once a second per backend, so PostgreSQL peaks use 2-second windows. The app-side counts (legacy caches: exact; this system: derived from its Prometheus metrics) are in the JSON.',
    '- **Stale reads are judged conservatively**: a write counts from the moment the harness saw it acknowledged (saves) or the executor saw the UPDATE return (bulk), so the real staleness windows are slightly longer, never shorter.',
    '- **Baselines are best-case**: the delete-on-write baseline also deletes every key of the bulk update from app code (a real ORM bulk `update()` would typically skip the hook and leave them stale until the TTL).',
    '- **The incident\'s scale is not reproduced**: the same mechanisms on a small machine. The point is the shape (what each design does to Redis, PostgreSQL and freshness under the same load), not production numbers.',
    '- **Isolation**: the benchmark caches in Redis db 7 (services, baselines, redis-benchmark) with its own key prefixes and deletes its own keys, rows (`bench-<run>-…`) and consumer groups afterwards; nothing is flushed or truncated.',
    '',
  );
}
