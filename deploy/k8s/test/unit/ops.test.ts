import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8S_DIR } from '../../lib/connector';

// The runbooks' scripted steps: the failover heal and the dead-letter tool. Run against a
// recording kubectl stand-in; the Kubernetes side is exercised by hand in a cluster.

const script = (name: string): string => join(K8S_DIR, 'ops', name);

test('every script parses', () => {
  for (const f of [script('heal-after-failover.sh'), script('dlq.sh'), join(K8S_DIR, 'install.sh'), join(K8S_DIR, 'connect-image', 'build.sh')]) {
    expect({ f, status: spawnSync('bash', ['-n', f]).status }).toEqual({ f, status: 0 });
  }
});

const healDryRun = (...args: string[]): string => {
  const r = spawnSync('bash', [script('heal-after-failover.sh'), '-n', 'settings', '--dry-run', ...args], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout;
};

test('the failover heal stops the connector, records the gap and drops a lost slot, resets offsets, waits for an active slot, and only then requests the snapshot (and, if asked, bumps generations)', () => {
  const out = healDryRun('--renew-generations');
  const order = ['state":"stopped', 'heal-cdc-gap.js","--drop-lost-slot","heal-after-failover.sh', 'strimzi.io/connector-offsets=reset', 'state":"running', 'connector and task RUNNING', `slot settings_cache_slot active`, 'heal-cdc-gap.js"]', 'renew-cache-generations.js'];
  const positions = order.map((s) => out.indexOf(s));
  expect(positions.every((p) => p >= 0)).toBe(true);
  expect([...positions].sort((a, b) => a - b)).toEqual(positions);
});

// After a restore or a failover to a standby that was behind, the stored offset is ahead of the
// new server's WAL and Debezium would stream from it silently, skipping changes: a run resets
// unless told the position is right (--keep-offsets).
test('a run resets the connector offsets by default, --reset-offsets or not', () => {
  for (const args of [[], ['--reset-offsets']]) expect(healDryRun(...args)).toContain('strimzi.io/connector-offsets=reset');
});

test('--keep-offsets re-reads the rows without stopping the connector or resetting its offsets (no gap of its own)', () => {
  const out = healDryRun('--keep-offsets');
  expect(out).not.toContain('state":"stopped');
  expect(out).not.toContain('strimzi.io/connector-offsets=reset');
  const order = ['connector and task RUNNING', 'slot settings_cache_slot active', 'heal-cdc-gap.js","heal-after-failover.sh'];
  const positions = order.map((x) => out.indexOf(x));
  expect(positions.every((p) => p >= 0)).toBe(true);
  expect([...positions].sort((a, b) => a - b)).toEqual(positions);
});

/**
 * Runs the heal against a stand-in kubectl that records every call (a pod's multi-line overrides
 * span several lines), answers the invalidator's image and a connector that stays STOPPED, and
 * fails the call matching `failing` (a bash case pattern), if given.
 */
function healAgainstStub(failing?: string): { status: number | null; stderr: string; calls: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'heal-'));
  const stub = join(dir, 'kubectl');
  writeFileSync(
    stub,
    `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "${dir}/calls"
case "$*" in
  ${failing === undefined ? '' : `${failing}) exit 1 ;;`}
  *"get deploy/settings-invalidator"*) echo registry/settings-invalidator:1 ;;
  *"get kafkaconnector/"*connector.state*) echo STOPPED ;;
esac
exit 0
`,
  );
  chmodSync(stub, 0o755);
  const r = spawnSync('bash', [script('heal-after-failover.sh'), '-n', 'settings'], { encoding: 'utf8', env: { ...process.env, KUBECTL: stub, TIMEOUT: '5' } });
  return { status: r.status, stderr: r.stderr, calls: readFileSync(join(dir, 'calls'), 'utf8').split('\n') };
}

test('a failed read of the offsets annotation is not taken as "reset": the connector is started only by the failure path, with the pending reset removed first', () => {
  // The API server refuses the annotation read (RBAC, a hiccup); everything else works.
  const r = healAgainstStub('*"get kafkaconnector/"*connector-offsets*');
  expect(r.status).not.toBe(0);
  const running = r.calls.findIndex((c) => c.startsWith('patch kafkaconnector/') && c.includes('"state":"running"'));
  const unreset = r.calls.findIndex((c) => c.startsWith('annotate kafkaconnector/') && c.includes('strimzi.io/connector-offsets-'));
  expect(unreset).toBeGreaterThan(0);
  expect(running).toBeGreaterThan(unreset);
  expect(r.stderr).toContain('run this script again');
});

test('a heal that fails while the connector is stopped starts it again before exiting (change capture is never left off)', () => {
  // The connector stops as asked and the drop-lost-slot pod fails (e.g. the new primary does not answer yet).
  const r = healAgainstStub('*"run "*--drop-lost-slot*');
  expect(r.status).not.toBe(0);
  const patches = r.calls.filter((c) => c.startsWith('patch kafkaconnector/'));
  expect(patches.map((p) => /"state":"(\w+)"/.exec(p)?.[1])).toEqual(['stopped', 'running']);
  expect(r.stderr).toContain('run this script again');
});

// A run that resets the offsets and then fails (the connector never RUNNING again, the heal pod
// failing) must leave the gap recorded: the failure path removes no gap, and a later
// `settings-admin heal-cdc-gap` without a reason heals only what is recorded.
test('the gap is recorded before the offsets are reset, so a run that then dies in step 2 leaves it for the next heal', () => {
  // The stand-in connector never reports RUNNING again: step 2 times out.
  const r = healAgainstStub();
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('connector and task RUNNING: not reached');
  const recorded = r.calls.findIndex((c) => c.includes('"command":["node","services/invalidator/dist/src/admin/heal-cdc-gap.js","--drop-lost-slot","heal-after-failover.sh '));
  const reset = r.calls.findIndex((c) => c.startsWith('annotate kafkaconnector/') && c.includes('strimzi.io/connector-offsets=reset'));
  expect(reset).toBeGreaterThan(0);
  expect(recorded).toBeGreaterThan(0);
  expect(recorded).toBeLessThan(reset);
});

test('slot loss heals by re-reading rows, not by emptying the cache: the generation bump is opt-in', () => {
  const out = healDryRun();
  expect(out).toContain('heal-cdc-gap.js');
  expect(out).not.toContain('renew-cache-generations.js');
  expect(spawnSync('bash', [script('heal-after-failover.sh'), '-n', 'settings', '--bogus'], { encoding: 'utf8' }).status).toBe(2);
});

type HealPod = {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName: string;
    automountServiceAccountToken: boolean;
    securityContext: { runAsNonRoot: boolean; seccompProfile: { type: string } };
    containers: Array<{ command: string[]; env: Array<{ name: string; value?: string; valueFrom?: unknown }>; securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } } }>;
  };
};
/** The overrides of each heal pod a dry run would start, in order. */
const healPods = (out: string): HealPod[] => [...out.matchAll(/--overrides=(\{.*?\}\}\n)/gs)].map((m) => JSON.parse(m[1]!) as HealPod);
const HEAL_JS = 'services/invalidator/dist/src/admin/heal-cdc-gap.js';

test('the reason is recorded by the pod before the offsets reset, and after the reset the heal heals what is recorded; without a reset, the heal records it', () => {
  const [before, heal] = healPods(healDryRun('--reason', 'slot "x" recreated'));
  expect(before!.spec.containers[0]!.command).toEqual(['node', HEAL_JS, '--drop-lost-slot', 'slot "x" recreated']);
  expect(heal!.spec.containers[0]!.command).toEqual(['node', HEAL_JS]);
  expect(healPods(healDryRun('--keep-offsets', '--reason', 'dead letters lost')).map((p) => p.spec.containers[0]!.command)).toEqual([['node', HEAL_JS, 'dead letters lost']]);
});

test('the snapshot heal runs the invalidator image in a restricted pod as debezium_settings, the password from the Secret only', () => {
  // The last pod is the heal (the first records the gap and drops a lost slot).
  const overrides = healPods(healDryRun('--reason', 'slot "x" recreated')).at(-1)!;
  expect(overrides.metadata.labels['app.kubernetes.io/name']).toBe('settings-cdc-heal');
  expect(overrides.spec).toMatchObject({ serviceAccountName: 'settings-invalidator', automountServiceAccountToken: false, securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } });
  const c = overrides.spec.containers[0]!;
  expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  expect(c.command).toEqual(['node', HEAL_JS]);
  // The command exists in the invalidator's sources (the image builds it).
  expect(existsSync(join(__dirname, '../../../../services/invalidator/src/admin/heal-cdc-gap.ts'))).toBe(true);
  const env = Object.fromEntries(c.env.map((e) => [e.name, e]));
  expect(env.PGPASSWORD).toEqual({ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'settings-debezium-db', key: 'password' } } });
  const url = new URL(env.HEAL_DATABASE_URL!.value!);
  expect({ user: url.username, password: url.password, host: url.hostname, sslmode: url.searchParams.get('sslmode') }).toEqual({ user: 'debezium_settings', password: '', host: 'settings-postgres', sslmode: 'verify-full' });
  expect(env.REPLICATION_SLOT!.value).toBe('settings_cache_slot');
  // Like user and host, the TLS mode is the connector's (dev connects with sslmode=disable).
  expect(readFileSync(script('heal-after-failover.sh'), 'utf8')).toContain('sslmode="$(cfg sslmode verify-full)"');
});

// The heal pod is under default deny like the workloads: network-policy.test.ts checks that it
// reaches DNS and PostgreSQL and nothing else, with the labels asserted above.

test('the generation bump runs the renew-cache-generations command of the invalidator image, built from its source', () => {
  const text = readFileSync(script('heal-after-failover.sh'), 'utf8');
  const path = /node (services\/invalidator\/dist\/src\/admin\/renew-cache-generations\.js)/.exec(text)![1]!;
  expect(existsSync(join(__dirname, '../../../../', path.replace('/dist/src/', '/src/').replace(/\.js$/, '.ts')))).toBe(true);
  expect(text).toContain('deploy/settings-invalidator -c settings-invalidator');
});

test('the DLQ tool runs the Strimzi image’s console tools in a restricted pod as settings-ops, over TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dlq-'));
  const stub = join(dir, 'kubectl');
  writeFileSync(stub, `#!/usr/bin/env bash\nprintf '%s\\n' "$@" > "${dir}/args"\n`);
  chmodSync(stub, 0o755);
  const r = spawnSync('bash', [script('dlq.sh'), '-n', 'settings', 'replay'], { encoding: 'utf8', env: { ...process.env, KUBECTL: stub } });
  expect(r.status).toBe(0);
  const args = readFileSync(join(dir, 'args'), 'utf8');
  const overrides = JSON.parse(/^--overrides=(.*)$/ms.exec(args.split('\n--command')[0]!)![1]!) as {
    metadata: { labels: Record<string, string> };
    spec: { securityContext: { runAsNonRoot: boolean; seccompProfile: { type: string } }; containers: Array<{ image: string; command: string[]; securityContext: { allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } } }> };
  };
  expect(overrides.metadata.labels['app.kubernetes.io/name']).toBe('settings-ops');
  expect(overrides.spec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  const c = overrides.spec.containers[0]!;
  expect(c.image).toMatch(/^quay\.io\/strimzi\/kafka:/);
  expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  const inner = c.command[2]!;
  expect(inner).toContain('bin/kafka-console-consumer.sh');
  expect(inner).toContain('bin/kafka-console-producer.sh');
  expect(inner).toContain('settings-kafka-kafka-bootstrap:9093');
  expect(inner).not.toMatch(/kcat|kafkacat|broker-0/);
  expect(spawnSync('bash', ['-n'], { input: inner }).status).toBe(0);
});
