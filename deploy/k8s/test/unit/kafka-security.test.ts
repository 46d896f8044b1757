import { kafkaClientOptions, kafkaEnv, loadEnv } from '@settings/shared';
import { readSharedConnector } from '../../lib/connector';
import { renderAll, type K8sObject, type Rendering } from '../../lib/render';
import { mountedFile, resolvedEnv, workloads, type Workload } from '../../lib/workloads';

// Kafka: every client authenticates (SCRAM over TLS, the only client listener) and is limited
// by ACLs; brokers and controllers are spread over nodes and zones; Connect hands a dead
// worker's task over quickly.

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

type Listener = { name: string; port: number; tls: boolean; authentication?: { type: string }; networkPolicyPeers: Array<{ podSelector: { matchLabels: Record<string, string> } }> };
const kafkaSpec = (r: Rendering): { kafka: { authorization: { type: string }; listeners: Listener[] } } => ofKind(r, 'Kafka')[0]!.spec as never;
const invalidator = (r: Rendering): Workload => workloads(r.objects).find((w) => w.object.metadata.name === 'settings-invalidator')!;
const invalidatorEnv = (r: Rendering): Map<string, string> => resolvedEnv(invalidator(r).pod.containers[0]!, r.objects);

test('ACLs are enforced; the only client listener is TLS + SCRAM on 9093, nothing is plain text or anonymous', () => {
  for (const r of renderings) {
    const kafka = kafkaSpec(r);
    expect(kafka.kafka.authorization.type).toBe('simple');
    expect(kafka.kafka.listeners.map((l) => [l.port, l.tls, l.authentication?.type])).toEqual([[9093, true, 'scram-sha-512']]);
    // Its peers: Connect, the invalidator and the operators' tools.
    expect(kafka.kafka.listeners[0]!.networkPolicyPeers.map((p) => p.podSelector.matchLabels['app.kubernetes.io/name'] ?? p.podSelector.matchLabels['strimzi.io/kind'])).toEqual(['KafkaConnect', 'settings-invalidator', 'settings-ops']);
    // Every principal authenticates: no KafkaUser for User:ANONYMOUS, none without authentication.
    for (const u of ofKind(r, 'KafkaUser') as User[]) expect({ user: u.metadata.name, userName: u.spec.userName, auth: u.spec.authentication?.type }).toEqual({ user: u.metadata.name, userName: undefined, auth: 'scram-sha-512' });
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

test('the invalidator connects to the TLS listener as its SCRAM KafkaUser, trusting the cluster CA, with both files mounted from Strimzi’s Secrets', () => {
  for (const r of renderings) {
    const kafka = ofKind(r, 'Kafka')[0]!;
    const listener = kafkaSpec(r).kafka.listeners.find((l) => l.tls)!;
    const env = invalidatorEnv(r);
    const w = invalidator(r);
    const file = (name: string): string | undefined => mountedFile(w.pod, w.pod.containers[0]!, env.get(name)!);
    expect(env.get('KAFKA_BROKERS')!.split(',')).toEqual([`${kafka.metadata.name}-kafka-bootstrap:${listener.port}`]);
    expect(env.get('KAFKA_SSL')).toBe('true');
    expect(env.get('KAFKA_SASL_MECHANISM')).toBe(listener.authentication!.type);
    const u = user(r, env.get('KAFKA_SASL_USERNAME')!);
    expect(u.metadata.name).toBe('settings-invalidator');
    expect(u.spec.authentication?.type).toBe(listener.authentication!.type);
    // The User Operator's Secret is named after the KafkaUser; the Cluster Operator's CA after the cluster.
    expect(file('KAFKA_SASL_PASSWORD_FILE')).toBe(`secret:${u.metadata.name}/password`);
    expect(file('KAFKA_SSL_CA_FILE')).toBe(`secret:${kafka.metadata.name}-cluster-ca-cert/ca.crt`);
    // Read-only, and whole volumes (a subPath mount would never see a renewed CA or a new password).
    const kafkaMounts = w.pod.containers[0]!.volumeMounts!.filter((m) => /kafka/.test(m.name));
    expect(kafkaMounts.map((m) => [m.readOnly, m.subPath])).toEqual([[true, undefined], [true, undefined]]);

    // The service's own check accepts the rendered configuration, reading what the volumes hold.
    const vars = Object.fromEntries([...env].filter(([k]) => k in kafkaEnv));
    const contents: Record<string, string> = { [file('KAFKA_SSL_CA_FILE')!]: '-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n', [file('KAFKA_SASL_PASSWORD_FILE')!]: 'scram-password' };
    const reads: string[] = [];
    const options = kafkaClientOptions(loadEnv(kafkaEnv, vars), (path) => {
      reads.push(path);
      return contents[mountedFile(w.pod, w.pod.containers[0]!, path)!]!;
    });
    expect(reads.sort()).toEqual([env.get('KAFKA_SASL_PASSWORD_FILE'), env.get('KAFKA_SSL_CA_FILE')].sort());
    expect(options).toEqual({ ssl: { ca: [contents[file('KAFKA_SSL_CA_FILE')!]] }, sasl: { mechanism: 'scram-sha-512', username: u.metadata.name } });
    expect(options.sasl!.password).toBe('scram-password');
  }
});

test('the invalidator’s ACLs fit its configuration: its group, read the change topics, write the DLQ, nothing more', () => {
  for (const r of renderings) {
    const env = invalidatorEnv(r);
    const u = user(r, env.get('KAFKA_SASL_USERNAME')!);
    expect(may(u, 'group', env.get('KAFKA_GROUP_ID')!, 'Read')).toBe(true);
    expect(may(u, 'topic', `${env.get('KAFKA_TOPIC_PREFIX')}.public.doctor_settings`, 'Read')).toBe(true);
    expect(may(u, 'topic', env.get('DLQ_TOPIC')!, 'Write')).toBe(true);
    expect(env.get('KAFKA_CREATE_TOPICS')).toBe('false');
    expect(may(u, 'topic', `${env.get('KAFKA_TOPIC_PREFIX')}.public.doctor_settings`, 'Write')).toBe(false);
    expect(may(u, 'topic', `${env.get('KAFKA_TOPIC_PREFIX')}.public.doctor_settings`, 'Create')).toBe(false);
    expect(may(u, 'topic', env.get('DLQ_TOPIC')!, 'Read')).toBe(false);
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
