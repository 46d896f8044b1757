import { readSharedConnector } from '../../lib/connector';
import { renderAll, type K8sObject, type Rendering } from '../../lib/render';
import { resolvedEnv, workloads } from '../../lib/workloads';

// Kafka: clients authenticate (SCRAM over TLS) and are limited by ACLs; brokers and
// controllers are spread over nodes and zones; Connect hands a dead worker's task over quickly.

interface Acl {
  resource: { type: string; name: string; patternType: string };
  operations: string[];
}
type User = K8sObject & { spec: { userName?: string; authentication?: { type: string }; authorization: { type: string; acls: Acl[] } } };

let renderings: Rendering[];
beforeAll(() => {
  renderings = renderAll().filter((r) => !r.name.endsWith('/migrate'));
});
const ofKind = (r: Rendering, kind: string): K8sObject[] => r.objects.filter((o) => o.kind === kind);
const user = (r: Rendering, name: string): User => ofKind(r, 'KafkaUser').find((u) => u.metadata.name === name) as User;
/** May `u` do `op` on `type` named `name` (literal or prefix ACLs, allow only)? */
const may = (u: User, type: string, name: string, op: string): boolean =>
  u.spec.authorization.acls.some((a) => a.resource.type === type && (a.resource.patternType === 'prefix' ? name.startsWith(a.resource.name) : name === a.resource.name) && (a.operations.includes(op) || a.operations.includes('All')));

test('ACLs are enforced and the TLS listener requires SCRAM; the plain listener admits only the invalidator', () => {
  for (const r of renderings) {
    const kafka = ofKind(r, 'Kafka')[0]!.spec as { kafka: { authorization: { type: string }; listeners: Array<{ name: string; port: number; tls: boolean; authentication?: { type: string }; networkPolicyPeers: Array<{ podSelector: { matchLabels: Record<string, string> } }> }> } };
    expect(kafka.kafka.authorization.type).toBe('simple');
    const tls = kafka.kafka.listeners.find((l) => l.port === 9093)!;
    expect([tls.tls, tls.authentication?.type]).toEqual([true, 'scram-sha-512']);
    const plain = kafka.kafka.listeners.find((l) => l.port === 9092)!;
    expect(plain.networkPolicyPeers.map((p) => p.podSelector.matchLabels)).toEqual([{ 'app.kubernetes.io/name': 'settings-invalidator' }]);
  }
});

test('Kafka Connect authenticates as its KafkaUser over TLS, trusting the cluster CA; its ACLs cover what it does and no more', () => {
  const prefix = readSharedConnector().config['topic.prefix']!;
  for (const r of renderings) {
    const c = ofKind(r, 'KafkaConnect')[0]!.spec as { bootstrapServers: string; groupId: string; configStorageTopic: string; offsetStorageTopic: string; statusStorageTopic: string; authentication: { type: string; username: string; passwordSecret: { secretName: string } }; tls: { trustedCertificates: Array<{ secretName: string }> } };
    expect(c.bootstrapServers).toMatch(/:9093$/);
    expect(c.authentication.type).toBe('scram-sha-512');
    expect(c.tls.trustedCertificates[0]!.secretName).toBe('settings-kafka-cluster-ca-cert');
    const u = user(r, c.authentication.username);
    expect(u.spec.authentication?.type).toBe('scram-sha-512');
    expect(c.authentication.passwordSecret.secretName).toBe(u.metadata.name);
    expect(may(u, 'group', c.groupId, 'Read')).toBe(true);
    for (const t of [c.configStorageTopic, c.offsetStorageTopic, c.statusStorageTopic]) for (const op of ['Read', 'Write', 'Create']) expect(may(u, 'topic', t, op)).toBe(true);
    expect(may(u, 'topic', `${prefix}.public.account_settings`, 'Write')).toBe(true);
    expect(may(u, 'topic', `__debezium-heartbeat.${prefix}`, 'Write')).toBe(true);
    // Never creates change topics, never reads them, never touches the dead letters.
    expect(may(u, 'topic', `${prefix}.public.account_settings`, 'Create')).toBe(false);
    expect(may(u, 'topic', `${prefix}.public.account_settings`, 'Read')).toBe(false);
    expect(may(u, 'topic', 'settings.invalidator.dlq', 'Read')).toBe(false);
  }
});

test('the invalidator’s ACLs (SCRAM user and the transitional anonymous one, kept identical) fit its configuration', () => {
  for (const r of renderings) {
    const scram = user(r, 'settings-invalidator');
    const plain = user(r, 'settings-invalidator-plain');
    expect(scram.spec.authentication?.type).toBe('scram-sha-512');
    expect(plain.spec.userName).toBe('ANONYMOUS');
    expect(plain.spec.authentication).toBeUndefined();
    expect(plain.spec.authorization).toEqual(scram.spec.authorization);
    const env = resolvedEnv(workloads(r.objects).find((w) => w.object.metadata.name === 'settings-invalidator')!.pod.containers[0]!, r.objects);
    expect(may(scram, 'group', env.get('KAFKA_GROUP_ID')!, 'Read')).toBe(true);
    expect(may(scram, 'topic', `${env.get('KAFKA_TOPIC_PREFIX')}.public.doctor_settings`, 'Read')).toBe(true);
    expect(may(scram, 'topic', env.get('DLQ_TOPIC')!, 'Write')).toBe(true);
    expect(env.get('KAFKA_CREATE_TOPICS')).toBe('false');
    expect(may(scram, 'topic', `${env.get('KAFKA_TOPIC_PREFIX')}.public.doctor_settings`, 'Write')).toBe(false);
  }
});

test('prod: brokers and controllers are rack-aware, one per node, spread over zones', () => {
  const prod = renderings.find((r) => r.name === 'overlays/prod')!;
  const kafka = ofKind(prod, 'Kafka')[0]!.spec as { kafka: { rack?: { topologyKey: string } } };
  expect(kafka.kafka.rack?.topologyKey).toBe('topology.kubernetes.io/zone');
  for (const pool of ofKind(prod, 'KafkaNodePool')) {
    type Pod = { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: Array<{ topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }> } }; topologySpreadConstraints: Array<{ topologyKey: string }> };
    const pod = (pool.spec as { template: { pod: Pod } }).template.pod;
    const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]!;
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    expect(anti.labelSelector.matchLabels['strimzi.io/pool-name']).toBe(pool.metadata.name);
    expect(pod.topologySpreadConstraints.map((t) => t.topologyKey)).toContain('topology.kubernetes.io/zone');
  }
});

test('a dead Connect worker’s task is reassigned within a minute, not after the 5-minute default', () => {
  for (const r of renderings) {
    const delay = Number((ofKind(r, 'KafkaConnect')[0]!.spec as { config: Record<string, unknown> }).config['scheduled.rebalance.max.delay.ms']);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(60_000);
  }
});
