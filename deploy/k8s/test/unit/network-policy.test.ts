import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseEnv } from 'node:querystring';
import { parse as parseYaml } from 'yaml';
import { K8S_DIR } from '../../lib/connector';
import { egressAllowed, firstAddress, ingressAllowed, type Endpoint } from '../../lib/network';
import { FIXTURES_DIR, renderAll, renderFixture, TEST_SITE_ENV, type K8sObject, type Rendering } from '../../lib/render';
import { resolvedEnv, workloads } from '../../lib/workloads';

// Every workload, the project's and Kafka Connect, can reach exactly what it needs under the
// rendered NetworkPolicies (default deny): DNS through kube-dns and NodeLocal DNSCache (on its
// link-local address, and on the kube-dns ClusterIP it binds with kube-proxy in iptables mode),
// Kafka, PostgreSQL, Redis, and Prometheus can scrape it. Evaluated with Kubernetes semantics by
// lib/network.ts, against the rendered policies of every overlay.

const site = parseEnv(readFileSync(TEST_SITE_ENV, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).join('&')) as Record<string, string>;
const nsLabels = (name: string): Record<string, string> => ({ 'kubernetes.io/metadata.name': name });

let renderings: Rendering[];
beforeAll(() => {
  renderings = renderAll().filter((r) => !r.name.endsWith('/migrate'));
});

interface Targets {
  postgres: Endpoint;
  redis: Endpoint;
}
// Where PostgreSQL and Redis are: outside the cluster in prod (site address ranges), pods in
// settings-dev-deps in dev.
const TARGETS: Record<string, Targets> = {
  'overlays/prod': { postgres: { ip: firstAddress(site.POSTGRES_CIDR!) }, redis: { ip: firstAddress(site.REDIS_CIDR!) } },
  'overlays/dev': {
    postgres: { pod: { 'app.kubernetes.io/name': 'postgres' }, namespace: nsLabels('settings-dev-deps') },
    redis: { pod: { 'app.kubernetes.io/name': 'redis' }, namespace: nsLabels('settings-dev-deps') },
  },
};
const KUBE_DNS: Endpoint = { pod: { 'k8s-app': 'kube-dns' }, namespace: nsLabels('kube-system') };
const NODE_LOCAL_DNS: Endpoint = { ip: '169.254.20.10' };
// NodeLocal DNSCache with kube-proxy in iptables mode: it binds the kube-dns Service ClusterIP on
// every node (NOTRACK, no DNAT), so pods' queries leave addressed to that IP (site value).
const CLUSTER_DNS: Endpoint = { ip: firstAddress(site.KUBE_DNS_CIDR!) };
const DNS_ENDPOINTS = [KUBE_DNS, NODE_LOCAL_DNS, CLUSTER_DNS];
const PROMETHEUS: Endpoint = { pod: { 'app.kubernetes.io/name': 'prometheus' }, namespace: nsLabels(site.PROMETHEUS_NAMESPACE!) };
const CONNECT_POD = { 'strimzi.io/name': 'settings-connect-connect', 'strimzi.io/cluster': 'settings-connect', 'strimzi.io/kind': 'KafkaConnect' };
const BROKER_POD = { 'strimzi.io/cluster': 'settings-kafka', 'strimzi.io/broker-role': 'true', 'strimzi.io/kind': 'Kafka', 'strimzi.io/pool-name': 'broker' };

type Need = 'postgres' | 'redis' | 'kafka';
const NEEDS: Record<string, Need[]> = {
  'settings-service': ['postgres', 'redis'],
  'settings-invalidator': ['redis', 'kafka', 'postgres'], // postgres: the staleness auditor (read-only role)
  'settings-migrate': ['postgres'],
  'settings-cdc-heal': ['postgres'], // ops/heal-after-failover.sh's pod: signal rows as the replication role
  'settings-postgres-exporter': ['postgres'],
  'settings-redis-exporter': ['redis'],
};

function podLabels(r: Rendering, name: string): Record<string, string> {
  const w = workloads(r.objects).find((x) => x.podLabels['app.kubernetes.io/name'] === name);
  // The migration Job renders in its own kustomization; its pod labels are fixed by migrate/job.yaml.
  // The heal pod is created by ops/heal-after-failover.sh with the labels of its --overrides.
  if (name === 'settings-cdc-heal') return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'settings-cache' };
  return w?.podLabels ?? { 'app.kubernetes.io/name': name, 'app.kubernetes.io/component': 'migrations', 'app.kubernetes.io/part-of': 'settings-cache' };
}

describe.each(['overlays/dev', 'overlays/prod'])('%s', (overlay) => {
  const r = (): Rendering => renderings.find((x) => x.name === overlay)!;
  const ns = (): Record<string, string> => nsLabels(r().objects.find((o) => o.kind === 'Namespace')!.metadata.name);
  const target = (need: Need): Endpoint => (need === 'kafka' ? { pod: BROKER_POD, namespace: ns() } : TARGETS[overlay]![need]);
  const kafkaPort = (): number => Number(resolvedEnv(workloads(r().objects).find((w) => w.object.metadata.name === 'settings-invalidator')!.pod.containers[0]!, r().objects).get('KAFKA_BROKERS')!.split(':').pop());
  const port = (need: Need): number => (need === 'postgres' ? 5432 : need === 'redis' ? 6379 : kafkaPort());

  test.each(Object.entries(NEEDS))('%s: DNS (kube-dns, NodeLocal DNS, the kube-dns ClusterIP), what it needs, nothing else', (name, needs) => {
    const pod = podLabels(r(), name);
    const o = r().objects;
    for (const dns of DNS_ENDPOINTS) {
      expect({ dns, udp: egressAllowed(o, pod, ns(), dns, 53, 'UDP'), tcp: egressAllowed(o, pod, ns(), dns, 53, 'TCP') }).toEqual({ dns, udp: true, tcp: true });
    }
    for (const need of ['postgres', 'redis', 'kafka'] as Need[]) {
      expect({ need, allowed: egressAllowed(o, pod, ns(), target(need), port(need)) }).toEqual({ need, allowed: needs.includes(need) });
    }
    // Default deny holds: nothing else, e.g. the Kubernetes API or the internet, and the DNS
    // addresses on port 53 only.
    expect(egressAllowed(o, pod, ns(), { ip: '10.0.0.1' }, 443)).toBe(false);
    expect(egressAllowed(o, pod, ns(), CLUSTER_DNS, 443)).toBe(false);
  });

  test.each(Object.keys(NEEDS).filter((n) => !['settings-migrate', 'settings-cdc-heal'].includes(n)))('%s: Prometheus may scrape its metrics port, nobody else may', (name) => {
    const w = workloads(r().objects).find((x) => x.podLabels['app.kubernetes.io/name'] === name)!;
    const metricsPort = w.pod.containers[0]!.ports!.find((p) => p.name === 'metrics')!.containerPort;
    expect(ingressAllowed(r().objects, w.podLabels, ns(), PROMETHEUS, metricsPort)).toBe(true);
    expect(ingressAllowed(r().objects, w.podLabels, ns(), { pod: { app: 'other' }, namespace: nsLabels('other') }, metricsPort)).toBe(false);
  });

  test('Kafka Connect: DNS, PostgreSQL, the TLS listener its bootstrapServers names, peer workers; no API server', () => {
    const o = r().objects;
    const connect = o.find((x) => x.kind === 'KafkaConnect')!;
    const connectPort = Number((connect.spec as { bootstrapServers: string }).bootstrapServers.split(':').pop());
    expect(connectPort).toBe(9093);
    for (const dns of DNS_ENDPOINTS) {
      expect({ dns, udp: egressAllowed(o, CONNECT_POD, ns(), dns, 53, 'UDP'), tcp: egressAllowed(o, CONNECT_POD, ns(), dns, 53, 'TCP') }).toEqual({ dns, udp: true, tcp: true });
    }
    expect(egressAllowed(o, CONNECT_POD, ns(), target('postgres'), 5432)).toBe(true);
    expect(egressAllowed(o, CONNECT_POD, ns(), { pod: BROKER_POD, namespace: ns() }, connectPort)).toBe(true);
    expect(egressAllowed(o, CONNECT_POD, ns(), { pod: CONNECT_POD, namespace: ns() }, 8083)).toBe(true);
    // The password is a mounted Secret: no Kubernetes API access, so no rule that depends on
    // how the CNI sees the API server (ClusterIP vs endpoint addresses).
    expect(egressAllowed(o, CONNECT_POD, ns(), { ip: '10.0.0.1' }, 443)).toBe(false);
    expect(egressAllowed(o, CONNECT_POD, ns(), { ip: '10.0.0.1' }, 6443)).toBe(false);
    expect(egressAllowed(o, CONNECT_POD, ns(), target('redis'), 6379)).toBe(false);
  });

  test('settings-invalidator reaches the brokers on the TLS listener (9093) only', () => {
    const pod = podLabels(r(), 'settings-invalidator');
    const brokers: Endpoint = { pod: BROKER_POD, namespace: ns() };
    expect(kafkaPort()).toBe(9093);
    expect([9092, 9093, 9091, 9090].map((p) => [p, egressAllowed(r().objects, pod, ns(), brokers, p)])).toEqual([[9092, false], [9093, true], [9091, false], [9090, false]]);
  });

  test('gRPC clients reach the service only from opted-in namespaces', () => {
    const pod = podLabels(r(), 'settings-service');
    expect(ingressAllowed(r().objects, pod, ns(), { pod: {}, namespace: { 'settings-cache.io/grpc-client': 'true' } }, 50051)).toBe(true);
    expect(ingressAllowed(r().objects, pod, ns(), { pod: {}, namespace: nsLabels('elsewhere') }, 50051)).toBe(false);
  });
});

// deploy/k8s/README.md, "Pointing the services at a Redis Cluster": a Redis Cluster inside
// Kubernetes is reached through a namespace + pod selector peer, not by widening REDIS_CIDR
// (ipBlock is for addresses outside the cluster; Cilium and others never match pod IPs with it,
// and lib/network.ts evaluates it the same way). test/fixtures/redis-in-cluster is prod plus
// the README's patch, verbatim.
describe('Redis Cluster inside Kubernetes (README recipe, test/fixtures/redis-in-cluster)', () => {
  const FIXTURE = 'redis-in-cluster';
  // A node of the README's example StatefulSet (redis-0.redis.cache.svc) in namespace cache.
  const REDIS_NODE: Endpoint = {
    pod: { 'app.kubernetes.io/name': 'redis', 'statefulset.kubernetes.io/pod-name': 'redis-0', 'apps.kubernetes.io/pod-index': '0' },
    namespace: nsLabels('cache'),
  };
  let o: K8sObject[];
  let prod: K8sObject[];
  let ns: Record<string, string>;
  beforeAll(() => {
    o = renderFixture(FIXTURE).objects;
    prod = renderings.find((x) => x.name === 'overlays/prod')!.objects;
    ns = nsLabels(o.find((x) => x.kind === 'Namespace')!.metadata.name);
  });
  const pod = (name: string): Record<string, string> => workloads(o).find((w) => w.podLabels['app.kubernetes.io/name'] === name)!.podLabels;

  test.each(['settings-service', 'settings-invalidator', 'settings-redis-exporter'])('%s reaches the Redis nodes in namespace cache on 6379, never the cluster bus 16379', (name) => {
    expect(egressAllowed(o, pod(name), ns, REDIS_NODE, 6379)).toBe(true);
    expect(egressAllowed(o, pod(name), ns, REDIS_NODE, 16379)).toBe(false);
    // Other pods of that namespace and of other namespaces stay closed; REDIS_CIDR still works.
    expect(egressAllowed(o, pod(name), ns, { pod: { 'app.kubernetes.io/name': 'other' }, namespace: nsLabels('cache') }, 6379)).toBe(false);
    expect(egressAllowed(o, pod(name), ns, { pod: REDIS_NODE.pod, namespace: nsLabels('elsewhere') }, 6379)).toBe(false);
    expect(egressAllowed(o, pod(name), ns, { ip: firstAddress(site.REDIS_CIDR!) }, 6379)).toBe(true);
    // Without the patch, no REDIS_CIDR reaches a pod: the reason for the recipe.
    expect(egressAllowed(prod, pod(name), ns, REDIS_NODE, 6379)).toBe(false);
  });

  test('pods that need no Redis do not reach it', () => {
    expect(egressAllowed(o, pod('settings-postgres-exporter'), ns, REDIS_NODE, 6379)).toBe(false);
    expect(egressAllowed(o, CONNECT_POD, ns, REDIS_NODE, 6379)).toBe(false);
  });

  test('the README gives exactly the fixture\'s patch', () => {
    const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
    const section = readme.split(/^## /m).find((s) => s.startsWith('Pointing the services at a Redis Cluster'))!;
    // Fenced YAML blocks, possibly indented under a list item.
    const blocks = [...section.matchAll(/^( *)```yaml\n([\s\S]*?)^\1```/gm)].map(
      (m) => parseYaml(m[2]!.split('\n').map((l) => l.slice(m[1]!.length)).join('\n')) as { patches?: unknown },
    );
    const fixture = parseYaml(readFileSync(join(FIXTURES_DIR, FIXTURE, 'kustomization.yaml'), 'utf8')) as { patches: unknown };
    expect(blocks.map((b) => b.patches)).toContainEqual(fixture.patches);
  });
});
