import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lib/connector';
import { JWT_KEY_VARS, JWT_VARS, RUNTIME_VARS, isOtelVar, loadEnvContract, type ServiceName } from '../../lib/env-contract';
import { renderAll, type Rendering } from '../../lib/render';
import { resolvedEnv, workloads } from '../../lib/workloads';

// Every variable a service requires is provided by the manifests (ConfigMap or Secret
// reference), nothing unknown is set (a typo would silently fall back to a local default),
// and docs/operations.md documents every variable.

const SERVICES: Array<[ServiceName, string]> = [
  ['settings', 'settings-service'],
  ['invalidator', 'settings-invalidator'],
];
const SECRET_VARS = ['DATABASE_URL', 'REDIS_URL', 'JWT_PUBLIC_KEY', 'CONSISTENCY_TOKEN_SECRET'];

let renderings: Rendering[];
beforeAll(() => {
  renderings = renderAll().filter((r) => !r.name.endsWith('/migrate'));
});

function containerEnv(r: Rendering, deployment: string): Map<string, string> {
  const w = workloads(r.objects).find((x) => x.object.metadata.name === deployment)!;
  return resolvedEnv(w.pod.containers[0]!, r.objects);
}

describe.each(SERVICES)('%s', (service, deployment) => {
  const contract = loadEnvContract(service);

  test(`manifests provide every variable the service needs (contract: ${contract.source})`, () => {
    for (const r of renderings) {
      const env = containerEnv(r, deployment);
      const jwt = env.get('AUTH_MODE') === 'jwt';
      const missing = contract.mustProvide.filter((v) => !env.has(v) && !JWT_VARS.includes(v));
      if (service === 'settings' && jwt) {
        missing.push(...JWT_VARS.filter((v) => !JWT_KEY_VARS.includes(v) && !env.has(v)));
        if (!JWT_KEY_VARS.some((v) => env.has(v))) missing.push(JWT_KEY_VARS.join(' or '));
      }
      expect({ overlay: r.name, missing }).toEqual({ overlay: r.name, missing: [] });
    }
  });

  test('manifests set no variable the service does not read', () => {
    for (const r of renderings) {
      const unknown = [...containerEnv(r, deployment).keys()].filter((v) => !contract.all.includes(v) && !RUNTIME_VARS.includes(v) && !isOtelVar(v));
      expect({ overlay: r.name, unknown }).toEqual({ overlay: r.name, unknown: [] });
    }
  });

  test('credentials come from Secrets, never from literals or ConfigMaps', () => {
    for (const r of renderings) {
      for (const [name, value] of containerEnv(r, deployment)) if (SECRET_VARS.includes(name)) expect(`${name}=${value}`).toMatch(new RegExp(`^${name}=secret:`));
    }
  });

  test('every JWT variable the manifests may use to satisfy AUTH_MODE=jwt is one the service reads', () => {
    // An overlay setting only a key variable the service does not read passed this suite, and
    // the pod then refused to start (no key for jwt mode).
    if (service === 'settings') expect(JWT_VARS.filter((v) => !contract.all.includes(v))).toEqual([]);
  });

  test('docs/operations.md documents every variable', () => {
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8');
    expect(contract.all.filter((v) => !docs.includes(`\`${v}\``))).toEqual([]);
  });
});

test('prod authenticates callers with JWT; dev may not', () => {
  const prod = renderings.find((r) => r.name === 'overlays/prod')!;
  expect(containerEnv(prod, 'settings-service').get('AUTH_MODE')).toBe('jwt');
  expect(containerEnv(prod, 'settings-service').get('JWT_PUBLIC_KEY')).toMatch(/^secret:/);
});

test('both services share the eviction marker lifetime and the Redis they talk to', () => {
  for (const r of renderings) {
    const [s, i] = [containerEnv(r, 'settings-service'), containerEnv(r, 'settings-invalidator')];
    expect(s.get('CACHE_MARKER_TTL_SECONDS')).toBeDefined();
    expect(s.get('CACHE_MARKER_TTL_SECONDS')).toBe(i.get('CACHE_MARKER_TTL_SECONDS'));
    expect(s.get('REDIS_URL')).toBe(i.get('REDIS_URL'));
  }
});

test('ports in the configuration are the ports the probes, Service and monitors use', () => {
  for (const r of renderings) {
    const w = workloads(r.objects);
    const svc = w.find((x) => x.object.metadata.name === 'settings-service')!.pod.containers[0]!;
    const s = containerEnv(r, 'settings-service');
    expect(svc.ports).toEqual([{ name: 'grpc', containerPort: Number(s.get('GRPC_PORT')) }, { name: 'metrics', containerPort: Number(s.get('METRICS_PORT')) }]);
    expect(svc.readinessProbe!.grpc!.port).toBe(Number(s.get('GRPC_PORT')));
    const inv = w.find((x) => x.object.metadata.name === 'settings-invalidator')!.pod.containers[0]!;
    expect(inv.ports).toEqual([{ name: 'metrics', containerPort: Number(containerEnv(r, 'settings-invalidator').get('HTTP_PORT')) }]);
  }
});

test('the termination grace period covers the preStop pause and each service\'s own shutdown budget', () => {
  // settings: drains for SHUTDOWN_GRACE_MS, then force-exits 10 s later (services/settings/src/main.ts);
  // invalidator: force-exits 25 s after SIGTERM (services/invalidator/src/main.ts).
  for (const r of renderings) {
    // The exporters are third-party processes without a drain; only our services have a budget.
    for (const w of workloads(r.objects).filter((x) => x.object.kind === 'Deployment' && SERVICES.some(([, d]) => d === x.object.metadata.name))) {
      const pod = w.pod as typeof w.pod & { terminationGracePeriodSeconds: number };
      const c = w.pod.containers[0]! as (typeof w.pod.containers)[0] & { lifecycle?: { preStop?: { sleep?: { seconds: number } } } };
      const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
      const budget = w.object.metadata.name === 'settings-service' ? Number(containerEnv(r, 'settings-service').get('SHUTDOWN_GRACE_MS')) / 1000 + 10 : 25;
      expect({ workload: w.object.metadata.name, fits: preStop + budget <= pod.terminationGracePeriodSeconds }).toEqual({ workload: w.object.metadata.name, fits: true });
    }
  }
});

// The image runs with NODE_ENV=production and pods listen on their pod IP: the service refuses
// AUTH_MODE=insecure-dev there (exit 2, a crash loop), so no overlay may ask for it.
test('every overlay runs the settings service with AUTH_MODE=jwt', () => {
  for (const r of renderings) {
    expect({ overlay: r.name, authMode: containerEnv(r, 'settings-service').get('AUTH_MODE') }).toEqual({ overlay: r.name, authMode: 'jwt' });
  }
});

// docs/operations.md: deliberate reads and the Redis fallback share the read pool and must leave
// it room for ordinary misses; lock-waiting saves must leave the write pool room for free rows.
test('every overlay keeps the pool rules: deliberate reads below the read pool, the fallback within it, lock-waiting saves below the write pool', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { settingsEnvSchema } = require(join(REPO_ROOT, 'services', 'settings', 'src', 'config.ts')) as { settingsEnvSchema: Record<string, { default?: unknown }> };
  for (const r of renderings) {
    const env = containerEnv(r, 'settings-service');
    const n = (name: string): number => Number(env.get(name) ?? settingsEnvSchema[name]!.default);
    const broken = [
      n('DB_DELIBERATE_READ_MAX_CONCURRENCY') < n('DB_READ_POOL_MAX') ? '' : 'DB_DELIBERATE_READ_MAX_CONCURRENCY >= DB_READ_POOL_MAX',
      n('DB_FALLBACK_MAX_CONCURRENCY') <= n('DB_READ_POOL_MAX') ? '' : 'DB_FALLBACK_MAX_CONCURRENCY > DB_READ_POOL_MAX',
      n('DB_LOCK_WAIT_MAX_CONCURRENCY') < n('DB_WRITE_POOL_MAX') ? '' : 'DB_LOCK_WAIT_MAX_CONCURRENCY >= DB_WRITE_POOL_MAX',
    ].filter(Boolean);
    expect({ overlay: r.name, broken }).toEqual({ overlay: r.name, broken: [] });
  }
});
