import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The cache contract's central rule, enforced on the source: application code never deletes,
 * expires, overwrites or flushes cache entries. Only the versioned-fill Lua script writes
 * entries, and freshness comes from the invalidator's markers. This scan fails on any such call
 * in src/. The only other writes are the shared contract's own, on fixed non-entry keys and
 * never on a settings write: creating a missing generation (`establishGeneration`, SET NX) and
 * renewing generations when the Redis server changed (`checkRedisIncarnation`), and appending a
 * sampled hit to the capped audit stream `v1:{meta}:audit-samples` (`publishAuditSample`, XADD
 * MAXLEN ~: a fixed non-entry key the read path never reads; see the last test), and taking and
 * releasing fill leases (`acquireFillLease` SET NX PX, `releaseFillLease` compare-and-delete, both
 * in the shared contract) on lease keys, which are never entries (key-map.ts fillLeaseKey).
 * Tracking set-up (`CLIENT TRACKING`, `SUBSCRIBE`) changes no key.
 */
const SRC = join(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Strips comments so prose like "never .del(" cannot trip (or hide from) the scan. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

interface Hit {
  file: string;
  line: number;
  text: string;
}

function scan(pattern: RegExp): Hit[] {
  const hits: Hit[] = [];
  for (const file of sourceFiles(SRC)) {
    code(readFileSync(file, 'utf8'))
      .split('\n')
      .forEach((text, i) => {
        if (pattern.test(text)) hits.push({ file: relative(SRC, file), line: i + 1, text: text.trim() });
      });
  }
  return hits;
}

// Redis commands that remove, expire, overwrite or flush keys, and ways around a named method.
const MUTATING = [
  'del', 'unlink', 'expire', 'pexpire', 'expireat', 'pexpireat', 'persist', 'getdel', 'getex', 'getset',
  'setex', 'psetex', 'setnx', 'setrange', 'append', 'mset', 'msetnx', 'rename', 'renamenx', 'move', 'copy',
  'restore', 'flushall', 'flushdb', 'swapdb', 'evictToMarker', 'eval', 'evalsha', 'evalRo', 'evalshaRo', 'fcall',
  'sendCommand', 'call', 'callBuffer', 'multi', 'hset', 'incr', 'incrby', 'decr', 'lpush', 'rpush', 'sadd', 'zadd',
];

describe('services/settings/src never mutates cache entries', () => {
  it('finds the source files', () => {
    expect(sourceFiles(SRC).length).toBeGreaterThan(10);
  });

  it('calls no key-deleting, expiring, overwriting or flushing Redis command', () => {
    const pattern = new RegExp(`\\.(${MUTATING.join('|')})(Buffer)?\\s*\\(`, 'i');
    expect(scan(pattern)).toEqual([]);
  });

  it('calls .set( only on known non-Redis receivers (Maps, gRPC metadata, a gauge)', () => {
    // Receivers are listed, not guessed: an aliased Redis client (`const c = redis; c.set(...)`)
    // would otherwise slip through. Adding a Map? Add its receiver here after checking it.
    const allowed = new Set(['metrics.circuitOpen', 'out', 'pending', 'this.flights', 'keys', 'metadata', 'this.callers']);
    // The near-cache's own maps and gauges (near-cache.ts, metrics.ts) are process memory, not Redis.
    for (const r of ['metrics.nearCacheTracking', 'nearCacheEntries', 'nearCacheBytes', 'split.filled', 'this.entries', 'this.generations', 'this.inFlight', 'this.changeWaiters']) allowed.add(r);
    // Watch (src/watch, src/grpc/watch): topics by key, keys by generation key, open streams by caller
    // (Maps), and the open-streams gauge.
    for (const r of ['this.topics', 'this.alsoOn', 'this.settledListeners', 'this.byCaller', 'deps.metrics.watchStreams']) allowed.add(r);
    // Admission and authentication (src/admission, grpc/verified-token-cache.ts): per-caller token
    // buckets and verified bearer tokens, lru-cache instances in process memory.
    for (const r of ['this.buckets', 'this.lru']) allowed.add(r);
    // Redis Cluster tracking (cache/cluster-invalidation-tracking.ts): masters and their tracking connections by address (Maps).
    for (const r of ['masters', 'this.trackers']) allowed.add(r);
    // Coalesced lookups (cache/coalesced-mget.ts): a key's position in the one MGET (a Map).
    allowed.add('position');
    // PostgreSQL pools (db/pool-metrics.ts, metrics.ts, app.ts): wait start times by acquire id, the pools' gauges, the pools by name (Maps).
    for (const r of ['requestedAt', 'dbPoolConnections', 'dbPoolWaiting', 'metrics.dbPools']) allowed.add(r);
    // The markers' floors a read saw (read-through.ts, a Map).
    allowed.add('seen.floors');
    const calls = scan(/\.set\s*\(/).flatMap((h) => [...h.text.matchAll(/([\w.]+)\.set\s*\(/g)].map((m) => ({ ...h, receiver: m[1]! })));
    expect(calls.filter((c) => !allowed.has(c.receiver))).toEqual([]);
  });

  it('uses only GET, the versioned-fill script and connection management on the Redis client', () => {
    const allowed = new Set(['get', 'getBuffer', 'mgetBuffer', 'versionedFill', 'on', 'once', 'off', 'quit', 'disconnect', 'status']);
    const used = scan(/\bredis\.\w+/).flatMap((h) => [...h.text.matchAll(/\bredis\.(\w+)/g)].map((m) => ({ ...h, method: m[1]! })));
    expect(used.filter((u) => !allowed.has(u.method))).toEqual([]);
    expect(used.some((u) => u.method === 'versionedFill')).toBe(true);
  });

  it('appends audit samples only through the shared publishAuditSample, from cache/audit-sampler.ts', () => {
    // The one write outside entries besides generations: XADD to the audit stream (a fixed
    // non-entry key, capped). Nothing in src/ may call XADD itself or publish from elsewhere.
    expect(scan(/\.xadd(Buffer)?\s*\(/i)).toEqual([]);
    expect(scan(/\bpublishAuditSample\b/).map((h) => h.file)).toEqual(['cache/audit-sampler.ts', 'cache/audit-sampler.ts']);
  });

  it('creates Redis clients in one place only (cache/redis-client.ts, through the shared factory)', () => {
    expect(scan(/new\s+(Redis|IORedis|Cluster)\s*\(/)).toEqual([]);
    // The data connection and the near-cache's invalidation subscriber.
    expect(scan(/\bcreateCacheRedis\s*\(/).map((h) => h.file)).toEqual(['cache/redis-client.ts', 'cache/redis-client.ts']);
  });
});
