import { createPublicKey } from 'node:crypto';
import { commonEnv, ConfigError, databaseEnv, env, loadEnv, type EnvValues } from '@settings/shared';
import { API_SCOPES, DEFAULT_UNSCOPED_TOKEN_SCOPES, parseScopeList } from './grpc/scopes';
import { defaultGrpcHost, insecureDevProblems } from './insecure-dev-guard';

/** Every variable the settings service reads; the README table is generated from this list. */
export const settingsEnvSchema = {
  ...commonEnv,
  ...databaseEnv,
  GRPC_HOST: env.string('interface the gRPC server binds; empty = 127.0.0.1 with AUTH_MODE=insecure-dev or a public development key (which refuse any non-loopback address), 0.0.0.0 with jwt', ''),
  GRPC_PORT: env.int('gRPC port (0 = ephemeral, for tests)', 50051, { min: 0, max: 65535 }),
  METRICS_PORT: env.int('HTTP port for /metrics, /healthz, /readyz (0 = ephemeral)', 9464, { min: 0, max: 65535 }),
  AUTH_MODE: env.oneOf('jwt: bearer tokens required; insecure-dev: no authentication (local only, logs a warning)', ['jwt', 'insecure-dev'] as const, 'jwt'),
  JWT_PUBLIC_KEY: env.string('PEM public key (RSA for RS256, P-256 for ES256) verifying bearer tokens; literal \\n is accepted', ''),
  JWT_HS256_SECRET: env.string('shared secret (>= 32 bytes) verifying HS256 bearer tokens; meant for tests', ''),
  JWT_PREVIOUS_PUBLIC_KEY: env.string('during a key rotation, the PEM public key the issuer signed with before JWT_PUBLIC_KEY: tokens signed with either are accepted (README, key rotation); empty when not rotating', ''),
  JWT_PREVIOUS_HS256_SECRET: env.string('during a rotation of JWT_HS256_SECRET, the secret before it (>= 32 bytes): tokens signed with either are accepted', ''),
  JWT_ISSUER: env.string('required `iss` of bearer tokens', 'settings-clients'),
  JWT_AUDIENCE: env.string('required `aud` of bearer tokens', 'settings-service'),
  JWT_UNSCOPED_TOKEN_SCOPES: env.string('scopes (space-separated) granted to a token without a `scope` claim; the default makes such tokens read-only', DEFAULT_UNSCOPED_TOKEN_SCOPES),
  JWT_VERIFIED_CACHE_MAX_ENTRIES: env.int('bearer tokens remembered after a successful verification, so a repeated token skips the signature check (only successes, never past the token `exp`); 0 = verify every call', 4096, { min: 0 }),
  JWT_VERIFIED_CACHE_MAX_AGE_MS: env.int('longest a remembered verification is trusted before the token is verified again', 60_000, { min: 1 }),
  CACHE_ENTRY_TTL_SECONDS: env.int('cache entry TTL (safety net only; freshness comes from the invalidator); at least half of CACHE_MARKER_TTL_SECONDS', 21600, { min: 1 }),
  CACHE_MARKER_TTL_SECONDS: env.int('eviction marker TTL; must equal the invalidator setting (fills older than half of it are dropped)', 600, { min: 1 }),
  CACHE_NOT_FOUND_TTL_SECONDS: env.int('TTL of a cached absence (a name with no row, answered NOT_FOUND without a PostgreSQL read until the row is created); bounds the Redis memory such entries take, not their freshness; 0 = absences are not cached', 300, { min: 0 }),
  DB_READ_POOL_MAX: env.int('PostgreSQL connections per process for reads (cache misses, fully_consistent, token reads)', 10, { min: 1, max: 1000 }),
  DB_WRITE_POOL_MAX: env.int('PostgreSQL connections per process for writes; saves never take a read connection and vice versa', 5, { min: 1, max: 1000 }),
  DB_LOCK_TIMEOUT_MS: env.int('longest wait of a save for a row lock held by another transaction, counted from when it first asks for a write connection (SET LOCAL lock_timeout, less the time queued for a connection); then ABORTED ROW_LOCKED with RetryInfo', 250, { min: 1 }),
  DB_WRITE_QUEUE_MAX: env.int('saves per process that may wait for a write connection while every one is in use; more fail at once with UNAVAILABLE (LOAD_SHED) and a RetryInfo, as does a save the ones ahead would keep waiting past its deadline', 100, { min: 0, max: 10000 }),
  DB_LOCK_WAIT_MAX_CONCURRENCY: env.int('saves per process that may wait for a row lock another transaction holds at once (keep below DB_WRITE_POOL_MAX); more fail at once with ABORTED ROW_LOCKED', 2, { min: 1, max: 1000 }),
  DB_DELIBERATE_READ_MAX_CONCURRENCY: env.int('reads sent to PostgreSQL on purpose (fully_consistent, a token newer than the cache) in flight at once per process', 6, { min: 1, max: 1000 }),
  DB_DELIBERATE_READS_PER_CALLER: env.int('most of those one caller (token `sub`) may hold at once; fewer while other callers wait (fair share); beyond it RESOURCE_EXHAUSTED', 3, { min: 1, max: 1000 }),
  DB_DELIBERATE_READ_MAX_WAIT_MS: env.int('longest a deliberate read waits for a permit: then RESOURCE_EXHAUSTED when its caller holds its share, else UNAVAILABLE (LOAD_SHED)', 250, { min: 0 }),
  DB_DELIBERATE_READS_PER_CALLER_PER_SECOND: env.int('deliberate read calls one caller (token `sub`) may make per second per process, also those that share another call\'s query (token bucket, on top of its concurrent share); over it RESOURCE_EXHAUSTED without waiting for a permit; 0 = no rate', 100, { min: 0, max: 1_000_000 }),
  DB_DELIBERATE_READ_BURST_PER_CALLER: env.int('size of that token bucket: deliberate reads a caller may start at once after being idle', 50, { min: 1, max: 1_000_000 }),
  DB_DELIBERATE_READ_REFUSAL_DELAY_MS: env.int('a deliberate read refused without waiting (over the rate, or too many of its caller waiting) is answered this much later, never past its deadline, so a flooding client sends its next call later (at most 4,096 refusals held at once, the others answered at once); 0 = at once', 100, { min: 0, max: 10_000 }),
  CONSISTENCY_TOKEN_SECRET: env.string('HMAC key (>= 32 bytes) signing consistency tokens, equal on every replica; required with AUTH_MODE=jwt (insecure-dev: a fixed development key when empty)', ''),
  CONSISTENCY_TOKEN_PREVIOUS_SECRET: env.string('a second key tokens are accepted with, never signed with: the rotation goes through it in three roll-outs (docs/operations.md, Rotating the consistency token key); empty = none', ''),
  DB_FALLBACK_MAX_CONCURRENCY: env.int('database reads in flight at once while Redis is unavailable; more are rejected with UNAVAILABLE', 8, { min: 1, max: 1000 }),
  DB_ANSWER_GRACE_MS: env.int("how long past a call's deadline (or past DB_STATEMENT_TIMEOUT_MS after it got its connection, if sooner) PostgreSQL may take to answer before the connection is closed and the call's pool and save places are given back (a partition, a frozen server, a host gone in a failover: PostgreSQL's own timeouts never answer)", 1000, { min: 0, max: 600_000 }),
  DB_STATEMENT_TIMEOUT_MS: env.int('longest statement, and longest wait for a pool connection; calls with a deadline use the remaining time, capped by this', 5000, { min: 10 }),
  REDIS_COMMAND_TIMEOUT_MS: env.int('a Redis command slower than this fails and counts against the circuit breaker', 100, { min: 1 }),
  REDIS_BREAKER_FAILURE_THRESHOLD: env.int('consecutive failed Redis round trips that open the circuit breaker (calls that shared one MGET count once)', 5, { min: 1 }),
  REDIS_BREAKER_OPEN_MS: env.int('how long the breaker stays open before one probe request tries Redis again', 2000, { min: 10 }),
  STAFF_LIST_CACHE_MAX_ROWS: env.int('staff permission lists longer than this are paged from PostgreSQL instead of cached whole', 2000, { min: 1 }),
  STAFF_LIST_CACHE_MAX_BYTES: env.int('staff permission lists whose encoded size exceeds this are paged from PostgreSQL instead of cached whole', 1024 * 1024, { min: 1024 }),
  GRPC_MAX_MESSAGE_BYTES: env.int('largest gRPC request message accepted (larger ones fail with RESOURCE_EXHAUSTED)', 1024 * 1024, { min: 1024 }),
  GRPC_MAX_CONCURRENT_STREAMS: env.int('most calls one client connection may have in flight (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); more wait in the client', 256, { min: 1 }),
  WATCH_MAX_STREAMS: env.int('open WatchSettings streams this replica accepts; more are UNAVAILABLE (WATCH_REPLICA_FULL)', 10_000, { min: 1 }),
  WATCH_MAX_STREAMS_PER_CALLER: env.int('open WatchSettings streams one caller (token `sub`) may hold on this replica', 100, { min: 1 }),
  WATCH_RESUME_HOLD_MS: env.int("longest a resumed Watch target waits, sending nothing, while this replica's state is older than the caller's resume token (the replica has not heard of a change yet); then its state is sent anyway (a token from before a database restore is ahead of every version); 0 = no wait. At most 20 s: nothing at all is sent meanwhile, and the client library reconnects after 30 s of silence, which would start the hold again", 5000, { min: 0, max: 20_000 }),
  WATCH_PROGRESS_INTERVAL_MS: env.int('how often a caught-up Watch stream gets a progress message (bookmark); none while Redis tracking is lost. At most 15 s: the client library reconnects after 30 s without a message', 10_000, { min: 100, max: 15_000 }),
  SHUTDOWN_GRACE_MS: env.int('on SIGTERM, time in-flight calls get before they are cancelled', 10_000, { min: 0 }),
  NEAR_CACHE_ENABLED: env.bool('keep an in-process near-cache of Redis entries, kept coherent by Redis client-side caching (CLIENT TRACKING); false = every cached read goes to Redis', true),
  NEAR_CACHE_MAX_ENTRIES: env.int('most entries the near-cache holds (least recently used evicted first)', 100_000, { min: 1 }),
  NEAR_CACHE_MAX_BYTES: env.int('most bytes (payloads, keys, per-entry overhead) the near-cache holds', 64 * 1024 * 1024, { min: 1024 }),
  FILL_LEASE_MS: env.int('lifetime of the Redis fill lease of a cold key: other replicas wait for the holder fill, take the lease over when it expires, and load themselves after at most 4 × this (or at their deadline); 0 = no leases', 500, { min: 0, max: 10_000 }),
  AUDIT_SAMPLE_EVERY: env.int('send 1 in this many cache hits to the staleness auditor (a capped Redis stream the invalidator reads); 0 = off', 1000, { min: 0 }),
};

export type SettingsConfig = EnvValues<typeof settingsEnvSchema>;

/** Loads and cross-checks the configuration; throws ConfigError listing every problem. */
export function loadSettingsConfig(source: NodeJS.ProcessEnv = process.env): SettingsConfig {
  const config = loadEnv(settingsEnvSchema, source);
  const pem = (value: string): string => value.replace(/\\n/g, '\n');
  const normalized = { ...config, JWT_PUBLIC_KEY: pem(config.JWT_PUBLIC_KEY), JWT_PREVIOUS_PUBLIC_KEY: pem(config.JWT_PREVIOUS_PUBLIC_KEY), GRPC_HOST: config.GRPC_HOST || defaultGrpcHost(config) };
  const problems = [...authProblems(normalized), ...cacheTimingProblems(normalized), ...insecureDevProblems(normalized, source.NODE_ENV)];
  if (problems.length > 0) throw new ConfigError(problems);
  return normalized;
}

function authProblems(config: SettingsConfig): string[] {
  const problems: string[] = [];
  const unknownScopes = [...parseScopeList(config.JWT_UNSCOPED_TOKEN_SCOPES)].filter((s) => !(API_SCOPES as readonly string[]).includes(s));
  if (unknownScopes.length > 0) problems.push(`JWT_UNSCOPED_TOKEN_SCOPES: unknown scope(s) ${unknownScopes.join(', ')} (known: ${API_SCOPES.join(' ')})`);
  // Grants decide who may do what in an account: always a deliberate scope of a token, never
  // the default of every old token without a `scope` claim (typically one for every account).
  if (parseScopeList(config.JWT_UNSCOPED_TOKEN_SCOPES).has('settings.permissions.write')) {
    problems.push('JWT_UNSCOPED_TOKEN_SCOPES may not include settings.permissions.write: staff permission changes need a token that names that scope');
  }
  for (const name of ['JWT_HS256_SECRET', 'JWT_PREVIOUS_HS256_SECRET'] as const) {
    if (config[name] !== '' && Buffer.byteLength(config[name]) < 32) problems.push(`${name} must be at least 32 bytes (HS256 keys shorter than the hash are guessable)`);
  }
  for (const name of ['JWT_PUBLIC_KEY', 'JWT_PREVIOUS_PUBLIC_KEY'] as const) {
    if (config[name] === '') continue;
    try {
      publicKeyAlgorithm(config[name]);
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  // A previous key only ever stands beside a current one: alone it would be the only key.
  if (config.JWT_PREVIOUS_PUBLIC_KEY !== '' && config.JWT_PUBLIC_KEY === '') problems.push('JWT_PREVIOUS_PUBLIC_KEY is set without JWT_PUBLIC_KEY (the key tokens are signed with now)');
  if (config.JWT_PREVIOUS_HS256_SECRET !== '' && config.JWT_HS256_SECRET === '') problems.push('JWT_PREVIOUS_HS256_SECRET is set without JWT_HS256_SECRET (the secret tokens are signed with now)');
  if (config.AUTH_MODE === 'jwt' && config.JWT_PUBLIC_KEY === '' && config.JWT_HS256_SECRET === '') {
    problems.push('AUTH_MODE=jwt needs JWT_PUBLIC_KEY or JWT_HS256_SECRET (or set AUTH_MODE=insecure-dev for local development)');
  }
  for (const name of ['CONSISTENCY_TOKEN_SECRET', 'CONSISTENCY_TOKEN_PREVIOUS_SECRET'] as const) {
    if (config[name] !== '' && Buffer.byteLength(config[name]) < 32) problems.push(`${name} must be at least 32 bytes`);
  }
  // Without a key shared by every replica a token could be forged to force PostgreSQL reads.
  if (config.AUTH_MODE === 'jwt' && config.CONSISTENCY_TOKEN_SECRET === '') {
    problems.push('AUTH_MODE=jwt needs CONSISTENCY_TOKEN_SECRET (the same on every replica)');
  }
  return problems;
}

/**
 * An entry is a fence too: the invalidator writes no marker over an entry that already holds the
 * change (evict-to-marker.lua). So it must outlive every fill that may still land, whose reads
 * are at most half a marker's lifetime old (cache-timing.ts); expired sooner, a slow reader's
 * older row could be stored in its place after the change, with no marker left to refuse it.
 */
function cacheTimingProblems(config: SettingsConfig): string[] {
  if (config.CACHE_ENTRY_TTL_SECONDS * 2 >= config.CACHE_MARKER_TTL_SECONDS) return [];
  return [`CACHE_ENTRY_TTL_SECONDS (${config.CACHE_ENTRY_TTL_SECONDS}) must be at least half of CACHE_MARKER_TTL_SECONDS (${config.CACHE_MARKER_TTL_SECONDS}): a shorter-lived entry stops fencing fills that may still land`];
}

/**
 * The one JWS algorithm a configured public key may verify, so tokens cannot pick another.
 * Checked as strictly as it is used (jose's importSPKI and its RS256 verification): a key that
 * passed here and failed there stopped the start with a bare TypeError, or, an RSA key under
 * 2048 bits, made every caller's token UNAUTHENTICATED.
 */
export function publicKeyAlgorithm(pem: string): 'RS256' | 'ES256' {
  const blocks = pem.match(/-----BEGIN [A-Z ]+-----/g) ?? [];
  if (blocks.length !== 1 || blocks[0] !== '-----BEGIN PUBLIC KEY-----') {
    throw new Error(`expected one "-----BEGIN PUBLIC KEY-----" (SPKI) block, found ${blocks.length === 0 ? 'none' : blocks.join(', ')}`);
  }
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('not a PEM public key');
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new Error(`RSA key of ${bits} bits (RS256 needs at least 2048)`);
    return 'RS256';
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (expected RSA or EC P-256)`);
}
