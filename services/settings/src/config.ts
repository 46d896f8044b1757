import { createPublicKey } from 'node:crypto';
import { commonEnv, ConfigError, databaseEnv, env, loadEnv, type EnvValues } from '@settings/shared';

/** Every variable the settings service reads; the README table is generated from this list. */
export const settingsEnvSchema = {
  ...commonEnv,
  ...databaseEnv,
  GRPC_HOST: env.string('interface the gRPC server binds', '0.0.0.0'),
  GRPC_PORT: env.int('gRPC port (0 = ephemeral, for tests)', 50051, { min: 0, max: 65535 }),
  METRICS_PORT: env.int('HTTP port for /metrics, /healthz, /readyz (0 = ephemeral)', 9464, { min: 0, max: 65535 }),
  AUTH_MODE: env.oneOf('jwt: bearer tokens required; insecure-dev: no authentication (local only, logs a warning)', ['jwt', 'insecure-dev'] as const, 'jwt'),
  JWT_PUBLIC_KEY: env.string('PEM public key (RSA for RS256, P-256 for ES256) verifying bearer tokens; literal \\n is accepted', ''),
  JWT_HS256_SECRET: env.string('shared secret (>= 32 bytes) verifying HS256 bearer tokens; meant for tests', ''),
  JWT_ISSUER: env.string('required `iss` of bearer tokens', 'settings-clients'),
  JWT_AUDIENCE: env.string('required `aud` of bearer tokens', 'settings-service'),
  CACHE_ENTRY_TTL_SECONDS: env.int('cache entry TTL (safety net only; freshness comes from the invalidator)', 21600, { min: 1 }),
  CACHE_MARKER_TTL_SECONDS: env.int('eviction marker TTL; must equal the invalidator setting (fills older than half of it are dropped)', 600, { min: 1 }),
  DB_POOL_MAX: env.int('PostgreSQL connections per process', 10, { min: 2, max: 1000 }),
  DB_FALLBACK_MAX_CONCURRENCY: env.int('database reads in flight at once while Redis is unavailable; more are rejected with UNAVAILABLE', 8, { min: 1, max: 1000 }),
  DB_STATEMENT_TIMEOUT_MS: env.int('longest statement, and longest wait for a pool connection; calls with a deadline use the remaining time, capped by this', 5000, { min: 10 }),
  REDIS_COMMAND_TIMEOUT_MS: env.int('a Redis command slower than this fails and counts against the circuit breaker', 100, { min: 1 }),
  REDIS_BREAKER_FAILURE_THRESHOLD: env.int('consecutive Redis failures that open the circuit breaker', 5, { min: 1 }),
  REDIS_BREAKER_OPEN_MS: env.int('how long the breaker stays open before one probe request tries Redis again', 2000, { min: 10 }),
  STAFF_LIST_CACHE_MAX_ROWS: env.int('staff permission lists longer than this are paged from PostgreSQL instead of cached whole', 2000, { min: 1 }),
  GRPC_MAX_MESSAGE_BYTES: env.int('largest gRPC request message accepted (larger ones fail with RESOURCE_EXHAUSTED)', 1024 * 1024, { min: 1024 }),
  SHUTDOWN_GRACE_MS: env.int('on SIGTERM, time in-flight calls get before they are cancelled', 10_000, { min: 0 }),
  AUDIT_SAMPLE_EVERY: env.int('send 1 in this many cache hits to the staleness auditor (a capped Redis stream the invalidator reads); 0 = off', 1000, { min: 0 }),
};

export type SettingsConfig = EnvValues<typeof settingsEnvSchema>;

/** Loads and cross-checks the configuration; throws ConfigError listing every problem. */
export function loadSettingsConfig(source: NodeJS.ProcessEnv = process.env): SettingsConfig {
  const config = loadEnv(settingsEnvSchema, source);
  const pem = config.JWT_PUBLIC_KEY.replace(/\\n/g, '\n');
  const normalized = { ...config, JWT_PUBLIC_KEY: pem };
  const problems = authProblems(normalized);
  if (problems.length > 0) throw new ConfigError(problems);
  return normalized;
}

function authProblems(config: SettingsConfig): string[] {
  const problems: string[] = [];
  if (config.JWT_HS256_SECRET !== '' && Buffer.byteLength(config.JWT_HS256_SECRET) < 32) {
    problems.push('JWT_HS256_SECRET must be at least 32 bytes (HS256 keys shorter than the hash are guessable)');
  }
  if (config.JWT_PUBLIC_KEY !== '') {
    try {
      publicKeyAlgorithm(config.JWT_PUBLIC_KEY);
    } catch (err) {
      problems.push(`JWT_PUBLIC_KEY: ${(err as Error).message}`);
    }
  }
  if (config.AUTH_MODE === 'jwt' && config.JWT_PUBLIC_KEY === '' && config.JWT_HS256_SECRET === '') {
    problems.push('AUTH_MODE=jwt needs JWT_PUBLIC_KEY or JWT_HS256_SECRET (or set AUTH_MODE=insecure-dev for local development)');
  }
  return problems;
}

/** The one JWS algorithm a configured public key may verify, so tokens cannot pick another. */
export function publicKeyAlgorithm(pem: string): 'RS256' | 'ES256' {
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new Error('not a PEM public key');
  }
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (expected RSA or EC P-256)`);
}
