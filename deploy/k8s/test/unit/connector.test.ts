import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GENERATED_FILE,
  buildKafkaConnector,
  connectorOverlays,
  effectiveConnectorConfig,
  environmentConnectorConfig,
  readConnectorEnv,
  readSharedConnector,
  renderKafkaConnectorYaml,
  type ConnectorEnv,
} from '../../lib/connector';
import { render, type K8sObject } from '../../lib/render';
import { resolvedEnv, workloads } from '../../lib/workloads';

// The KafkaConnector of every overlay is deploy/debezium/settings-connector.json plus that
// overlay's connector-env.json, nothing else, and the committed YAML is what the generator writes.

const shared = readSharedConnector();
const overlays = connectorOverlays();

test('both overlays deploy the connector', () => {
  expect(overlays.map((d) => d.split('/').pop())).toEqual(['dev', 'prod']);
});

describe.each(overlays.map((d) => [d.split('/').pop()!, d]))('overlay %s', (_name, dir) => {
  const env = readConnectorEnv(dir);
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render(dir).objects;
  });

  test(`committed ${GENERATED_FILE} is exactly what generate-connector.ts writes`, () => {
    // On failure: npx tsx deploy/k8s/generate-connector.ts
    expect(readFileSync(join(dir, GENERATED_FILE), 'utf8')).toBe(renderKafkaConnectorYaml(shared, env));
  });

  test('the rendered KafkaConnector runs the shared config plus only environment keys', () => {
    const connectors = objects.filter((o) => o.kind === 'KafkaConnector');
    expect(connectors).toHaveLength(1);
    const rendered = connectors[0] as unknown as Parameters<typeof effectiveConnectorConfig>[0];
    expect(connectors[0]!.metadata.name).toBe(shared.name);
    expect(effectiveConnectorConfig(rendered)).toEqual({ ...shared.config, ...env.config, 'database.password': `\${secrets:${env.namespace}/settings-debezium-db:password}` });
    const extra = Object.keys(env.config).sort();
    expect(extra.filter((k) => !k.startsWith('database.'))).toEqual([]);
    expect(['database.dbname', 'database.hostname', 'database.port', 'database.user'].every((k) => extra.includes(k))).toBe(true);
  });

  test('the password is a Secret reference in the overlay namespace, never a literal', () => {
    const ns = objects.find((o) => o.kind === 'Namespace')!.metadata.name;
    expect(env.namespace).toBe(ns);
    expect(objects.find((o) => o.kind === 'KafkaConnector')!.metadata.namespace).toBe(ns);
    const connect = objects.find((o) => o.kind === 'KafkaConnect')!;
    expect((connect.spec as { config: Record<string, string> }).config['config.providers.secrets.class']).toBe('io.strimzi.kafka.KubernetesSecretConfigProvider');
    expect(objects.find((o) => o.kind === 'KafkaConnector')!.metadata.labels!['strimzi.io/cluster']).toBe(connect.metadata.name);
  });

  test('topics: every change topic, the heartbeat topics and the DLQ are KafkaTopics; the invalidator agrees', () => {
    const topics = new Map(
      objects.filter((o) => o.kind === 'KafkaTopic').map((t) => {
        const s = t.spec as { topicName: string; partitions: number; config: Record<string, unknown> };
        return [s.topicName, s];
      }),
    );
    const prefix = shared.config['topic.prefix']!;
    const tables = shared.config['table.include.list']!.split(',').map((t) => t.replace(/^public\./, ''));
    for (const t of tables) expect(topics.has(`${prefix}.public.${t}`)).toBe(true);
    expect(topics.has(`__debezium-heartbeat.${prefix}`)).toBe(true);

    const invalidator = workloads(objects).find((w) => w.object.metadata.name === 'settings-invalidator')!;
    const vars = resolvedEnv(invalidator.pod.containers[0]!, objects);
    expect(vars.get('KAFKA_TOPIC_PREFIX')).toBe(prefix);
    expect(topics.has(vars.get('DLQ_TOPIC')!)).toBe(true);
    expect(vars.get('KAFKA_CREATE_TOPICS')).toBe('false');
    const changeTopics = tables.filter((t) => t !== 'debezium_heartbeat').map((t) => topics.get(`${prefix}.public.${t}`)!);
    expect(new Set(changeTopics.map((t) => t.partitions))).toEqual(new Set([Number(vars.get('CHANGE_TOPIC_PARTITIONS'))]));
    for (const t of topics.values()) expect(t.config['cleanup.policy']).toBe('delete');
    const kafka = objects.find((o) => o.kind === 'Kafka')!;
    expect(vars.get('KAFKA_BROKERS')).toBe(`${kafka.metadata.name}-kafka-bootstrap:9092`);
  });
});

test('an environment cannot override a shared connector key or set the password itself', () => {
  const env: ConnectorEnv = { connectCluster: 'c', namespace: 'n', passwordSecret: { name: 's', key: 'k' }, config: { 'snapshot.mode': 'initial' } };
  expect(() => environmentConnectorConfig(shared, env)).toThrow(/must not set snapshot.mode/);
  expect(() => environmentConnectorConfig(shared, { ...env, config: { 'database.password': 'x' } })).toThrow(/database.password/);
  const built = buildKafkaConnector(shared, { ...env, config: { 'database.hostname': 'h' } });
  expect(built.spec.class).toBe(shared.config['connector.class']);
  expect(built.spec.tasksMax).toBe(Number(shared.config['tasks.max']));
  expect(Object.keys(built.spec.config)).not.toContain('connector.class');
});
