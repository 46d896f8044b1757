import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GENERATED_FILE,
  SHARED_CONNECTOR_FILE,
  buildKafkaConnector,
  connectorOverlays,
  effectiveConnectorConfig,
  environmentConnectorConfig,
  readConnectorEnv,
  readSharedConnector,
  renderKafkaConnectorYaml,
  type ConnectorEnv,
} from '../../lib/connector';
import { renderOverlay, type K8sObject } from '../../lib/render';
import { resolvedEnv, workloads } from '../../lib/workloads';

// The KafkaConnector of every overlay is deploy/debezium/settings-connector.json plus that
// overlay's connector-env.json, nothing else, and the committed YAML is what the generator writes.

const shared = readSharedConnector();
const overlays = connectorOverlays();

test('both overlays deploy the connector', () => {
  expect(overlays.map((d) => d.split('/').pop())).toEqual(['dev', 'prod']);
});

describe.each(overlays.map((d) => [d.split('/').pop()!, d]))('overlay %s', (_name, dir) => {
  // Rendered from a staged copy with test/fixtures/site.env; `dir` is the real overlay.
  const env = readConnectorEnv(dir);
  let objects: K8sObject[];
  beforeAll(() => {
    objects = renderOverlay(`overlays/${_name}`).objects;
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
    // database.hostname is rewritten at render time to the host the settings-postgres Service
    // points at (the name on the database's certificate, for sslmode=verify-full).
    const pgService = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'settings-postgres')!;
    const host = (pgService.spec as { externalName: string }).externalName;
    expect(host).not.toBe('');
    expect(env.config['database.hostname']).toBe('settings-postgres');
    expect(effectiveConnectorConfig(rendered)).toEqual({
      ...shared.config,
      ...env.config,
      'database.hostname': host,
      'database.password': '${directory:/mnt/settings-debezium-db:password}',
    });
    const extra = Object.keys(env.config).sort();
    expect(extra.filter((k) => !k.startsWith('database.'))).toEqual([]);
    expect(['database.dbname', 'database.hostname', 'database.port', 'database.user'].every((k) => extra.includes(k))).toBe(true);
  });

  test('the password comes from a Secret mounted into Connect, never a literal; Connect needs no API access', () => {
    const ns = objects.find((o) => o.kind === 'Namespace')!.metadata.name;
    expect(objects.find((o) => o.kind === 'KafkaConnector')!.metadata.namespace).toBe(ns);
    const connect = objects.find((o) => o.kind === 'KafkaConnect')!;
    type ConnectSpec = {
      config: Record<string, string>;
      template: { pod: { volumes: Array<{ name: string; secret?: { secretName: string } }> }; connectContainer: { volumeMounts: Array<{ name: string; mountPath: string }> } };
    };
    const spec = connect.spec as ConnectSpec;
    expect(spec.config['config.providers']).toBe('directory');
    expect(spec.config['config.providers.directory.class']).toBe('org.apache.kafka.common.config.provider.DirectoryConfigProvider');
    const volume = spec.template.pod.volumes.find((v) => v.secret?.secretName === env.passwordSecret.name)!;
    expect(spec.template.connectContainer.volumeMounts).toContainEqual(expect.objectContaining({ name: volume.name, mountPath: `/mnt/${env.passwordSecret.name}` }));
    expect(objects.find((o) => o.kind === 'KafkaConnector')!.metadata.labels!['strimzi.io/cluster']).toBe(connect.metadata.name);
    // The old KubernetesSecretConfigProvider needed a Role and API-server egress; neither remains.
    expect(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
  });

  test('KafkaConnect runs the worker settings the local stack runs (deploy/debezium/connect-worker.json)', () => {
    // e.g. connector.client.config.override.policy: without it the connector's producer.override.* are rejected.
    const worker = JSON.parse(readFileSync(join(SHARED_CONNECTOR_FILE, '..', 'connect-worker.json'), 'utf8')) as Record<string, string>;
    const config = (objects.find((o) => o.kind === 'KafkaConnect')!.spec as { config: Record<string, unknown> }).config;
    for (const [key, value] of Object.entries(worker)) expect([key, String(config[key])]).toEqual([key, value]);
    const overrides = Object.keys(shared.config).filter((k) => k.startsWith('producer.override.'));
    if (overrides.length > 0) expect(config['connector.client.config.override.policy']).toBe('All');
  });

  test('KafkaConnect has strimzi.io/use-connector-resources, without which Strimzi ignores the KafkaConnector', () => {
    const connect = objects.find((o) => o.kind === 'KafkaConnect')!;
    expect(connect.metadata.annotations?.['strimzi.io/use-connector-resources']).toBe('true');
  });

  test('the database TLS mode verifies the server: verify-full with the mounted CA, or disabled in dev', () => {
    const mode = env.config['database.sslmode'];
    if (_name === 'prod') {
      expect(mode).toBe('verify-full');
      expect(env.config['database.sslrootcert']).toBe('/mnt/settings-ca/ca.crt');
    } else expect(mode).toBe('disable');
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
    const changeTopics = tables.filter((t) => t !== 'debezium_heartbeat' && t !== 'debezium_signal').map((t) => topics.get(`${prefix}.public.${t}`)!);
    expect(new Set(changeTopics.map((t) => t.partitions))).toEqual(new Set([Number(vars.get('CHANGE_TOPIC_PARTITIONS'))]));
    for (const t of topics.values()) expect(t.config['cleanup.policy']).toBe('delete');
    const kafka = objects.find((o) => o.kind === 'Kafka')!;
    expect(vars.get('KAFKA_BROKERS')).toBe(`${kafka.metadata.name}-kafka-bootstrap:9093`);
  });
});

test('an environment cannot override a shared connector key or set the password itself', () => {
  const env: ConnectorEnv = { connectCluster: 'c', passwordSecret: { name: 's', key: 'k' }, config: { 'snapshot.mode': 'initial' } };
  expect(() => environmentConnectorConfig(shared, env)).toThrow(/must not set snapshot.mode/);
  expect(() => environmentConnectorConfig(shared, { ...env, config: { 'database.password': 'x' } })).toThrow(/database.password/);
  const built = buildKafkaConnector(shared, { ...env, config: { 'database.hostname': 'h' } });
  expect(built.spec.class).toBe(shared.config['connector.class']);
  expect(built.spec.tasksMax).toBe(Number(shared.config['tasks.max']));
  expect(Object.keys(built.spec.config)).not.toContain('connector.class');
});
