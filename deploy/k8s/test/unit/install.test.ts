import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { K8S_DIR } from '../../lib/connector';
import { SITE_ENV_EXAMPLE, TEST_SITE_ENV, stageManifests } from '../../lib/render';

// install.sh enforces the install order with waits that fail fast. It runs here for real
// against a kubectl stub (test/fixtures/kubectl-stub.sh) that records every call, on a staged
// copy of the manifests with the test site values; only `kubectl kustomize` is real.

const STUB = join(K8S_DIR, 'test', 'fixtures', 'kubectl-stub.sh');

interface Run {
  status: number | null;
  output: string;
  calls: string[];
  ms: number;
}

function install(args: string[], env: Record<string, string> = {}, siteEnv = readFileSync(TEST_SITE_ENV, 'utf8')): Run {
  const root = stageManifests(siteEnv);
  copyFileSync(join(K8S_DIR, 'install.sh'), join(root, 'install.sh'));
  const log = join(root, 'kubectl-calls.log');
  writeFileSync(log, '');
  const t0 = Date.now();
  const r = spawnSync('bash', [join(root, 'install.sh'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, KUBECTL: STUB, STUB_LOG: log, POLL_INTERVAL: '0', TIMEOUT_MIGRATE: '600', TIMEOUT_CONNECTOR: '600', ...env },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}`, calls: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [], ms: Date.now() - t0 };
}

/** Each kubectl call as a step name, in order, repeats collapsed. */
function steps(calls: string[]): string[] {
  const named = calls.map((c) => {
    const phase = /install-phase=(\w+)/.exec(c)?.[1];
    if (c.startsWith('kustomize')) return 'render';
    if (c.startsWith('get crd')) return 'crd-check';
    if (c.startsWith('apply') && phase) return `apply:${phase}`;
    if (c.startsWith('apply') && c.includes('migrate.yaml')) return 'apply:migrate';
    if (/^get (secret|configmap)\//.test(c)) return 'prerequisites-check';
    if (c.startsWith('rollout status') && c.includes('exporter')) return 'rollout:exporters';
    if (c.startsWith('rollout status')) return 'rollout:app';
    if (c.startsWith('get kafka/')) return 'wait:kafka';
    if (c.startsWith('wait') && c.includes('kafkatopic')) return 'wait:topics';
    if (c.startsWith('wait') && c.includes('kafkauser')) return 'wait:users';
    if (c.startsWith('get kafkaconnect/')) return 'wait:connect';
    if (c.startsWith('delete job')) return 'delete:old-job';
    if (c.startsWith('get job/')) return 'wait:job';
    if (c.startsWith('logs')) return 'job-logs';
    if (c.startsWith('get kafkaconnector/')) return 'wait:connector';
    if (c.startsWith('exec') && c.includes('postgres-exporter')) return 'wait:slot-active';
    return `other:${c}`;
  });
  return named.filter((s, i) => s !== named[i - 1]);
}

const ORDER = [
  'render', 'crd-check', 'apply:namespace', 'prerequisites-check', 'apply:foundation', 'rollout:exporters',
  'apply:kafka', 'wait:kafka', 'wait:topics', 'wait:users', 'apply:connect', 'wait:connect',
  'delete:old-job', 'apply:migrate', 'wait:job', 'apply:connector', 'wait:connector', 'wait:slot-active',
  'apply:app', 'rollout:app',
];

test('installs in order: CRDs, namespace, prerequisites, Kafka, Connect, migrations, connector with an active slot, then the services', () => {
  const r = install(['--env', 'prod']);
  expect(r.output).toContain('done: prod installed in namespace settings');
  expect(r.status).toBe(0);
  expect(steps(r.calls)).toEqual(ORDER);
});

test('a failed migration Job stops the install at once, before the connector and the services', () => {
  const r = install(['--env', 'prod'], { STUB_JOB_CONDITIONS: 'Failed=True:BackoffLimitExceeded;' });
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/Job settings-migrate failed: Failed=True:BackoffLimitExceeded/);
  const s = steps(r.calls);
  expect(s.slice(-2)).toEqual(['wait:job', 'job-logs']);
  // One look at the Job, not a wait for the 600 s timeout.
  expect(r.calls.filter((c) => c.startsWith('get job/'))).toHaveLength(1);
  expect(r.ms).toBeLessThan(30_000);
});

test('a FAILED connector task stops the install with its trace, before the services', () => {
  const r = install(['--env', 'prod'], { STUB_CONNECTOR_STATES: 'RUNNING FAILED' });
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/connector settings-postgres and its task RUNNING failed: RUNNING FAILED: .*stub trace/);
  expect(steps(r.calls)).not.toContain('apply:app');
});

test('the services wait for an active replication slot', () => {
  const r = install(['--env', 'prod'], { STUB_SLOT_ACTIVE: '0', TIMEOUT_CONNECTOR: '1' });
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/replication slot settings_cache_slot active: not done after 1s/);
  expect(steps(r.calls)).not.toContain('apply:app');
});

test('missing Secrets are listed before anything but the namespace is applied', () => {
  const r = install(['--env', 'prod'], { STUB_MISSING: 'secret/settings-debezium-db' });
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/create these in namespace settings first .*secret\/settings-debezium-db/);
  expect(steps(r.calls)).toEqual(['render', 'crd-check', 'apply:namespace', 'prerequisites-check']);
});

test('refuses the example site values before touching the cluster', () => {
  const r = install(['--env', 'prod'], {}, readFileSync(SITE_ENV_EXAMPLE, 'utf8'));
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/site\/site.env still holds placeholder values/);
  expect(r.output).toMatch(/IMAGE_REGISTRY=registry\.example\.com/);
  expect(r.calls).toEqual([]);
});

test('--dry-run renders and prints the same plan without any cluster call', () => {
  const r = install(['--env', 'prod', '--dry-run']);
  expect(r.status).toBe(0);
  expect(r.calls.every((c) => c.startsWith('kustomize'))).toBe(true);
  const planned = r.output
    .split('\n')
    .filter((l) => l.startsWith('+ kubectl '))
    .map((l) => l.replace('+ kubectl ', ''));
  expect(steps(planned)).toEqual(ORDER.filter((s) => !s.startsWith('wait:kafka') && !s.startsWith('wait:connect') && !s.startsWith('wait:job') && !s.startsWith('wait:connector') && !s.startsWith('wait:slot') && !s.startsWith('render') && !s.endsWith('-check')));
  expect(r.output).toMatch(/waiting up to \d+s for replication slot settings_cache_slot active/);
});

test('dev installs the same way', () => {
  const r = install(['--env', 'dev']);
  expect(r.status).toBe(0);
  expect(r.output).toContain('done: dev installed in namespace settings-dev');
  // dev verifies HS256 tokens (AUTH_MODE=insecure-dev is refused by the production image): the
  // shared secret and the consistency-token key must exist before the workloads.
  expect(r.calls.some((c) => c.includes('secret/settings-jwt'))).toBe(true);
  expect(r.calls.some((c) => c.includes('secret/settings-consistency-token'))).toBe(true);
});
