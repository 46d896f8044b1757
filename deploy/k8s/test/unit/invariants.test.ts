import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { K8S_DIR } from '../../lib/connector';
import { objRef, placeholderPatterns, renderAll, type K8sObject, type Rendering } from '../../lib/render';
import { allContainers, selects, workloads, type LabelSelector, type Probe } from '../../lib/workloads';

// Rules every rendered overlay must keep, beyond schema validity.

let renderings: Rendering[];
beforeAll(() => {
  renderings = renderAll();
});

const each = <T>(fn: (r: Rendering) => T[]): Array<T> => renderings.flatMap(fn);
const ofKind = (r: Rendering, kind: string): K8sObject[] => r.objects.filter((o) => o.kind === kind);
const spec = <T>(o: K8sObject): T => o.spec as T;

test('every container has cpu and memory requests and limits', () => {
  const missing = each((r) =>
    workloads(r.objects).flatMap((w) =>
      allContainers(w).flatMap((c) =>
        ['requests', 'limits'].flatMap((kind) =>
          ['cpu', 'memory'].filter((res) => !c.resources?.[kind as 'requests' | 'limits']?.[res]).map((res) => `${r.name} ${objRef(w.object)}/${c.name}: ${kind}.${res}`),
        ),
      ),
    ),
  );
  expect(missing).toEqual([]);
});

test('long-running containers have liveness and readiness probes; the gRPC service uses native gRPC probes', () => {
  const problems = each((r) =>
    workloads(r.objects)
      .filter((w) => w.object.kind === 'Deployment')
      .flatMap((w) =>
        w.pod.containers.flatMap((c) => {
          const out: string[] = [];
          if (!c.livenessProbe) out.push(`${r.name} ${objRef(w.object)}/${c.name}: no livenessProbe`);
          if (!c.readinessProbe) out.push(`${r.name} ${objRef(w.object)}/${c.name}: no readinessProbe`);
          const isGrpc = (c.ports ?? []).some((p) => p.name === 'grpc');
          for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe].filter((x): x is Probe => !!x)) {
            if (isGrpc && !p.grpc) out.push(`${r.name} ${objRef(w.object)}/${c.name}: gRPC container probe is not a grpc probe`);
            if (!isGrpc && !p.httpGet) out.push(`${r.name} ${objRef(w.object)}/${c.name}: expected an HTTP probe`);
          }
          return out;
        }),
      ),
  );
  expect(problems).toEqual([]);
});

test("the settings service's readiness probe asks its service's status and liveness the overall one, so a replica not ready (schema behind this release) is not restarted", () => {
  // app.ts sets only settings.v1.SettingsService NOT_SERVING while the schema is behind
  // (setReady); a liveness or start-up probe on that name would restart the replica into
  // CrashLoopBackOff until the migration lands, and a readiness probe on "" would route calls to it.
  const problems = each((r) =>
    workloads(r.objects)
      .filter((w) => w.object.kind === 'Deployment')
      .flatMap((w) =>
        w.pod.containers
          .filter((c) => c.readinessProbe?.grpc)
          .flatMap((c) => {
            const where = `${r.name} ${objRef(w.object)}/${c.name}`;
            const out: string[] = [];
            if (c.readinessProbe?.grpc?.service !== 'settings.v1.SettingsService') out.push(`${where}: readinessProbe.grpc.service is ${String(c.readinessProbe?.grpc?.service)}`);
            for (const [kind, p] of [['livenessProbe', c.livenessProbe], ['startupProbe', c.startupProbe]] as const) {
              if (p?.grpc?.service) out.push(`${where}: ${kind}.grpc.service is ${p.grpc.service} (must be the overall status)`);
            }
            return out;
          }),
      ),
  );
  expect(problems).toEqual([]);
});

test('every pod runs non-root, read-only, without privilege escalation or capabilities, under RuntimeDefault seccomp', () => {
  const problems = each((r) =>
    workloads(r.objects).flatMap((w) => {
      const where = `${r.name} ${objRef(w.object)}`;
      const out: string[] = [];
      const pod = w.pod.securityContext ?? {};
      if (w.pod.automountServiceAccountToken !== false) out.push(`${where}: automountServiceAccountToken not false`);
      for (const c of allContainers(w)) {
        const sc = c.securityContext ?? {};
        if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) out.push(`${where}/${c.name}: runAsNonRoot`);
        if ((sc.runAsUser ?? pod.runAsUser) === 0) out.push(`${where}/${c.name}: runAsUser 0`);
        if (sc.readOnlyRootFilesystem !== true) out.push(`${where}/${c.name}: readOnlyRootFilesystem`);
        if (sc.allowPrivilegeEscalation !== false) out.push(`${where}/${c.name}: allowPrivilegeEscalation`);
        if (!sc.capabilities?.drop?.includes('ALL') || (sc.capabilities.add ?? []).length > 0) out.push(`${where}/${c.name}: capabilities must drop ALL, add none`);
        if ((sc.seccompProfile ?? pod.seccompProfile)?.type !== 'RuntimeDefault') out.push(`${where}/${c.name}: seccompProfile RuntimeDefault`);
      }
      return out;
    }),
  );
  expect(problems).toEqual([]);
});

test('service accounts do not mount API tokens, and every pod names its own service account', () => {
  const problems = each((r) => [
    ...ofKind(r, 'ServiceAccount').filter((sa) => (sa as { automountServiceAccountToken?: boolean }).automountServiceAccountToken !== false).map((sa) => `${r.name} ${objRef(sa)}`),
    ...workloads(r.objects)
      .filter((w) => !w.pod.serviceAccountName || !ofKind(r, 'ServiceAccount').some((sa) => sa.metadata.name === w.pod.serviceAccountName))
      .map((w) => `${r.name} ${objRef(w.object)}: service account ${w.pod.serviceAccountName} not rendered alongside`),
  ]);
  expect(problems).toEqual([]);
});

test('images are pinned: a registry, a version tag or digest, never latest', () => {
  const pinned = /^[a-z0-9.-]+\.[a-z]+(:\d+)?\/[a-z0-9/._-]+(:(?!latest$)[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$/;
  const images = each((r) => [
    ...workloads(r.objects).flatMap((w) => allContainers(w).map((c) => ({ where: `${r.name} ${objRef(w.object)}/${c.name}`, image: c.image }))),
    ...ofKind(r, 'KafkaConnect').map((kc) => ({ where: `${r.name} ${objRef(kc)}`, image: spec<{ image: string }>(kc).image })),
  ]);
  expect(images.length).toBeGreaterThan(0);
  expect(images.filter((i) => !pinned.test(i.image))).toEqual([]);
});

test('selectors match labels: workloads, Services, PDBs, HPA, monitors, NetworkPolicies', () => {
  const problems = each((r) => {
    const out: string[] = [];
    const pods = workloads(r.objects);
    const podsMatching = (sel: LabelSelector): number => pods.filter((w) => selects(sel, w.podLabels)).length;
    for (const w of pods.filter((x) => x.object.kind === 'Deployment')) {
      const sel = spec<{ selector: LabelSelector }>(w.object).selector;
      if (!selects(sel, w.podLabels)) out.push(`${objRef(w.object)}: selector does not match its pod template`);
      if (pods.filter((o) => o !== w && selects(sel, o.podLabels)).length > 0) out.push(`${objRef(w.object)}: selector also matches another workload`);
    }
    for (const svc of ofKind(r, 'Service').filter((s) => spec<{ type?: string }>(s).type !== 'ExternalName')) {
      const s = spec<{ selector: Record<string, string>; ports: Array<{ targetPort: string | number }> }>(svc);
      const targets = pods.filter((w) => selects({ matchLabels: s.selector }, w.podLabels));
      if (targets.length === 0) out.push(`${objRef(svc)}: selects no pods`);
      for (const p of s.ports) {
        if (!targets.every((w) => w.pod.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)))) out.push(`${objRef(svc)}: targetPort ${p.targetPort} not exposed`);
      }
    }
    for (const pdb of ofKind(r, 'PodDisruptionBudget')) if (podsMatching(spec<{ selector: LabelSelector }>(pdb).selector) === 0) out.push(`${objRef(pdb)}: selects no pods`);
    for (const hpa of ofKind(r, 'HorizontalPodAutoscaler')) {
      const ref = spec<{ scaleTargetRef: { kind: string; name: string } }>(hpa).scaleTargetRef;
      const target = r.objects.find((o) => o.kind === ref.kind && o.metadata.name === ref.name);
      if (!target) out.push(`${objRef(hpa)}: target ${ref.kind}/${ref.name} missing`);
      else if ((target.spec as { replicas?: number }).replicas !== undefined) out.push(`${objRef(target)}: sets replicas although ${objRef(hpa)} owns them`);
    }
    for (const sm of ofKind(r, 'ServiceMonitor')) {
      const s = spec<{ selector: LabelSelector; endpoints: Array<{ port: string }> }>(sm);
      const svcs = ofKind(r, 'Service').filter((svc) => selects(s.selector, svc.metadata.labels ?? {}));
      if (svcs.length === 0) out.push(`${objRef(sm)}: selects no Service`);
      for (const e of s.endpoints) if (!svcs.every((svc) => spec<{ ports: Array<{ name: string }> }>(svc).ports.some((p) => p.name === e.port))) out.push(`${objRef(sm)}: port ${e.port} not on Service`);
    }
    for (const pm of ofKind(r, 'PodMonitor')) {
      const s = spec<{ selector: LabelSelector; podMetricsEndpoints: Array<{ port: string }> }>(pm);
      // Strimzi's pods are created by the operator, not rendered here.
      if ([...Object.keys(s.selector.matchLabels ?? {}), ...(s.selector.matchExpressions ?? []).map((e) => e.key)].some((k) => k.startsWith('strimzi.io/'))) continue;
      const targets = pods.filter((w) => selects(s.selector, w.podLabels));
      if (targets.length === 0) out.push(`${objRef(pm)}: selects no pods`);
      for (const e of s.podMetricsEndpoints) if (!targets.every((w) => w.pod.containers.some((c) => (c.ports ?? []).some((p) => p.name === e.port)))) out.push(`${objRef(pm)}: port ${e.port} not on pods`);
    }
    for (const np of ofKind(r, 'NetworkPolicy')) {
      const sel = spec<{ podSelector: LabelSelector }>(np).podSelector;
      const strimziManaged = Object.keys(sel.matchLabels ?? {}).some((k) => k.startsWith('strimzi.io/'));
      const names = (sel.matchExpressions ?? []).flatMap((e) => e.values ?? []).concat(sel.matchLabels?.['app.kubernetes.io/name'] ?? []);
      // Pods of the migration Job render in the migrate overlay, the CDC-gap heal pod is created by
      // ops/heal-after-failover.sh; all other names must exist here.
      const known = new Set([...pods.map((w) => w.podLabels['app.kubernetes.io/name']), 'settings-migrate', 'settings-cdc-heal']);
      if (!strimziManaged && (names.length === 0 || names.some((n) => !known.has(n)))) out.push(`${objRef(np)}: selects unknown pods ${names.join(',')}`);
    }
    const strimziParents: Array<[string, string]> = [['KafkaTopic', 'Kafka'], ['KafkaNodePool', 'Kafka'], ['KafkaConnector', 'KafkaConnect']];
    for (const [child, parent] of strimziParents) {
      for (const o of ofKind(r, child)) {
        const cluster = o.metadata.labels?.['strimzi.io/cluster'];
        if (!ofKind(r, parent).some((p) => p.metadata.name === cluster)) out.push(`${objRef(o)}: strimzi.io/cluster=${cluster} is no ${parent} here`);
      }
    }
    return out.map((p) => `${r.name} ${p}`);
  });
  expect(problems).toEqual([]);
});

test('every site-dependent field is filled and no placeholder survives into a rendering', () => {
  // The base leaves site values empty (ExternalName hosts, CIDRs, JWT issuer); the site
  // component fills them. An empty one would be rejected by the API server at apply time.
  const patterns = placeholderPatterns();
  const problems = each((r) =>
    r.objects.flatMap((o) => {
      const text = JSON.stringify(o);
      const out = patterns.filter((p) => p.test(text)).map((p) => `${r.name} ${objRef(o)}: placeholder ${p.source}`);
      if (/"(cidr|externalName|JWT_ISSUER)":""/.test(text)) out.push(`${r.name} ${objRef(o)}: empty site value`);
      return out;
    }),
  );
  expect(problems).toEqual([]);
});

test('pods pull from the site registry with a pull Secret; Strimzi pods under restricted Pod Security', () => {
  for (const r of renderings) {
    for (const sa of ofKind(r, 'ServiceAccount').filter((x) => !/exporter/.test(x.metadata.name))) {
      expect({ sa: sa.metadata.name, pull: (sa as { imagePullSecrets?: unknown }).imagePullSecrets }).toEqual({ sa: sa.metadata.name, pull: [{ name: 'settings-registry-pull' }] });
    }
    for (const kc of ofKind(r, 'KafkaConnect')) {
      const s = spec<{ image: string; build?: unknown; template: { pod: { imagePullSecrets: unknown } } }>(kc);
      // No in-cluster (Kaniko) build: it cannot run under Pod Security `restricted`.
      expect(s.build).toBeUndefined();
      expect(s.template.pod.imagePullSecrets).toEqual([{ name: 'settings-registry-pull' }]);
    }
    for (const ns of ofKind(r, 'Namespace')) expect(ns.metadata.labels!['pod-security.kubernetes.io/enforce']).toBe('restricted');
  }
});

test('every rendered object carries a known install phase (install.sh applies by phase)', () => {
  const phases = ['namespace', 'foundation', 'kafka', 'connect', 'connector', 'app'];
  const problems = each((r) =>
    (r.name.endsWith('/migrate') ? [] : r.objects)
      .filter((o) => !phases.includes(o.metadata.labels?.['settings-cache.io/install-phase'] ?? ''))
      .map((o) => `${r.name} ${objRef(o)}: install phase ${o.metadata.labels?.['settings-cache.io/install-phase'] ?? 'missing'}`),
  );
  expect(problems).toEqual([]);
  const prod = renderings.find((r) => r.name === 'overlays/prod')!;
  const phaseOf = (kind: string): string | undefined => ofKind(prod, kind)[0]?.metadata.labels?.['settings-cache.io/install-phase'];
  expect([phaseOf('Namespace'), phaseOf('Kafka'), phaseOf('KafkaConnect'), phaseOf('KafkaConnector'), phaseOf('Deployment')]).toEqual(['namespace', 'kafka', 'connect', 'connector', expect.any(String)]);
  expect(ofKind(prod, 'Deployment').filter((d) => /^settings-(service|invalidator)$/.test(d.metadata.name)).map((d) => d.metadata.labels!['settings-cache.io/install-phase'])).toEqual(['app', 'app']);
});

test('the migration Job runs migrate.js from the same settings-service image the Deployment runs', () => {
  for (const env of ['dev', 'prod']) {
    const app = renderings.find((r) => r.name === `overlays/${env}`)!;
    const migrate = renderings.find((r) => r.name === `overlays/${env}/migrate`)!;
    const serviceImage = workloads(app.objects).find((w) => w.object.metadata.name === 'settings-service')!.pod.containers[0]!.image;
    const job = workloads(migrate.objects).find((w) => w.object.kind === 'Job')!;
    expect(job.pod.containers[0]!.image).toBe(serviceImage);
    expect(job.pod.containers[0]!.command).toEqual(['node', 'services/settings/dist/src/migrate.js']);
  }
});

test('the headless gRPC Service documents client-side load balancing', () => {
  const text = readFileSync(join(K8S_DIR, 'base', 'settings', 'service.yaml'), 'utf8');
  expect(text).toMatch(/dns:\/\/\//);
  expect(text).toMatch(/round_robin/);
  const svc = renderings[0]!.objects.find((o) => o.kind === 'Service' && o.metadata.name === 'settings-service')!;
  expect(spec<{ clusterIP: string }>(svc).clusterIP).toBe('None');
});

test('settings pods prefer nodes without Kafka brokers and Connect workers (their CPU during a bulk change delays reads)', () => {
  // The labels Strimzi gives the pods it creates (as in network-policy.test.ts).
  const strimziPods: Array<Record<string, string>> = [
    { 'strimzi.io/cluster': 'settings-kafka', 'strimzi.io/kind': 'Kafka', 'strimzi.io/pool-name': 'broker' },
    { 'strimzi.io/cluster': 'settings-connect', 'strimzi.io/kind': 'KafkaConnect', 'strimzi.io/name': 'settings-connect-connect' },
  ];
  for (const env of ['dev', 'prod']) {
    const app = renderings.find((r) => r.name === `overlays/${env}`)!;
    const settings = workloads(app.objects).find((w) => w.object.metadata.name === 'settings-service')!;
    const terms = settings.pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    for (const labels of strimziPods) {
      const term = terms.find((t) => t.podAffinityTerm.topologyKey === 'kubernetes.io/hostname' && selects(t.podAffinityTerm.labelSelector ?? {}, labels));
      expect([env, labels['strimzi.io/kind'], term !== undefined]).toEqual([env, labels['strimzi.io/kind'], true]);
    }
    // Preferred only: required would leave a small cluster unable to schedule the service.
    expect(settings.pod.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined();
  }
});
