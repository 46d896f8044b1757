import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './connector';

/**
 * The configuration contract between the services and these manifests: which environment
 * variables each service reads, and which of them the manifests must set.
 *
 * Source of truth is each service's `src/config.ts` (an exported `*EnvSchema`, keyed by
 * variable name, `default` undefined for required ones). Until a service has one, the list
 * below stands in for it: the ONE place to edit, and to delete once both services export
 * their schema.
 */
const FALLBACK_VARS: Record<ServiceName, string[]> = {
  settings: [
    'DATABASE_URL', 'REDIS_URL', 'LOG_LEVEL', 'GRPC_PORT', 'METRICS_PORT', 'AUTH_MODE', 'JWT_PUBLIC_KEY',
    'JWT_ISSUER', 'JWT_AUDIENCE', 'CACHE_ENTRY_TTL_SECONDS', 'CACHE_MARKER_TTL_SECONDS', 'DB_READ_POOL_MAX', 'DB_WRITE_POOL_MAX', 'DB_FALLBACK_MAX_CONCURRENCY',
  ],
  invalidator: [
    'KAFKA_BROKERS', 'KAFKA_CLIENT_ID', 'KAFKA_GROUP_ID', 'KAFKA_TOPIC_PREFIX', 'DLQ_TOPIC', 'REDIS_URL', 'LOG_LEVEL', 'HTTP_PORT',
    'EVICTION_MAX_KEYS_PER_SECOND', 'REDIS_MAX_INFLIGHT_PIPELINES', 'REDIS_LATENCY_TARGET_MS', 'CACHE_MARKER_TTL_SECONDS',
  ],
};

/**
 * Variables with a usable default that Kubernetes must still set explicitly, because the
 * default is right for the local stack only or because both services must agree on it.
 */
const EXPLICIT_IN_K8S = [
  'LOG_LEVEL', 'CACHE_MARKER_TTL_SECONDS', 'AUTH_MODE', 'KAFKA_TOPIC_PREFIX', 'KAFKA_CREATE_TOPICS', 'DLQ_TOPIC', 'KAFKA_GROUP_ID',
  'GRPC_PORT', 'METRICS_PORT', 'HTTP_PORT', 'SHUTDOWN_GRACE_MS',
  // The defaults are the local stack's PLAINTEXT Kafka; the cluster's listener is TLS + SCRAM.
  'KAFKA_SSL', 'KAFKA_SSL_CA_FILE', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD_FILE',
  // Empty (dynamic membership) is right for processes that share a host; a pod has a name of its own.
  'KAFKA_GROUP_INSTANCE_ID',
];

/** Any one key source satisfies AUTH_MODE=jwt; all are meaningless outside it. */
export const JWT_KEY_VARS = ['JWT_PUBLIC_KEY', 'JWT_HS256_SECRET'];
export const JWT_VARS = [...JWT_KEY_VARS, 'JWT_ISSUER', 'JWT_AUDIENCE'];

/** Runtime variables that are not the service's configuration (Node reads them itself). */
export const RUNTIME_VARS = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'];

/** Read by the OpenTelemetry SDK itself (packages/shared/src/observability/tracing.ts), not by the config schemas. */
export const isOtelVar = (name: string): boolean => name.startsWith('OTEL_');

export type ServiceName = 'settings' | 'invalidator';

export interface EnvContract {
  source: string;
  /** Every variable the service reads. */
  all: string[];
  /** Variables the manifests must provide. */
  mustProvide: string[];
}

interface SpecLike {
  default?: unknown;
}

/** Defaults pointing at the local stack (127.0.0.1:5xxxx) are no defaults in a cluster. */
function isLocalOnlyDefault(spec: SpecLike): boolean {
  return /127\.0\.0\.1|localhost|\[::1\]/.test(JSON.stringify(spec.default ?? ''));
}

export function loadEnvContract(service: ServiceName): EnvContract {
  const file = join(REPO_ROOT, 'services', service, 'src', 'config.ts');
  if (existsSync(file)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as Record<string, unknown>;
    const key = Object.keys(mod).find((k) => /EnvSchema$/.test(k));
    if (key) {
      const schema = mod[key] as Record<string, SpecLike>;
      const all = Object.keys(schema);
      const mustProvide = all.filter((v) => schema[v]!.default === undefined || isLocalOnlyDefault(schema[v]!) || EXPLICIT_IN_K8S.includes(v));
      return { source: `services/${service}/src/config.ts#${key}`, all, mustProvide };
    }
  }
  const all = FALLBACK_VARS[service];
  return { source: `fallback list in deploy/k8s/lib/env-contract.ts (no services/${service}/src/config.ts *EnvSchema yet)`, all, mustProvide: all };
}
