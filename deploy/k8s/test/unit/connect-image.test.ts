import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { K8S_DIR, REPO_ROOT } from '../../lib/connector';

// The Connect image CI builds (connect-image/) is the one the KafkaConnect deploys, with the
// Debezium and Kafka versions the local stack runs (deploy/local/pom.xml), and a pinned plugin.

const containerfile = readFileSync(join(K8S_DIR, 'connect-image', 'Containerfile'), 'utf8');
const arg = (name: string): string => new RegExp(`^ARG ${name}=(.+)$`, 'm').exec(containerfile)![1]!.trim();
const pom = readFileSync(join(REPO_ROOT, 'deploy', 'local', 'pom.xml'), 'utf8');
const pomVersion = (name: string): string => new RegExp(`<version.${name}>([^<]+)</version.${name}>`).exec(pom)![1]!;
const connect = parse(readFileSync(join(K8S_DIR, 'base', 'connect', 'connect.yaml'), 'utf8')) as { spec: { version: string; image: string; build?: unknown } };

test('Containerfile, KafkaConnect image tag and spec.version name the same Debezium and Kafka versions as the local stack', () => {
  expect(arg('DEBEZIUM_VERSION')).toBe(pomVersion('debezium'));
  expect(arg('KAFKA_VERSION')).toBe(pomVersion('kafka'));
  expect(connect.spec.version).toBe(arg('KAFKA_VERSION'));
  expect(connect.spec.image).toBe(`connect-debezium:${arg('DEBEZIUM_VERSION')}-kafka-${arg('KAFKA_VERSION')}`);
  expect(connect.spec.build).toBeUndefined();
});

test('the plugin comes from Maven Central and is verified by SHA-512 before it is unpacked', () => {
  expect(arg('DEBEZIUM_PLUGIN_SHA512')).toMatch(/^[a-f0-9]{128}$/);
  expect(containerfile).toContain('https://repo1.maven.org/maven2/io/debezium/debezium-connector-postgres/${DEBEZIUM_VERSION}/debezium-connector-postgres-${DEBEZIUM_VERSION}-plugin.tar.gz');
  expect(containerfile.indexOf('sha512sum -c')).toBeLessThan(containerfile.indexOf('tar -xzf'));
  expect(containerfile).toMatch(/^USER 1001$/m);
});
