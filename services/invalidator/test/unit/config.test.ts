import { loadAdminInspectConfig } from '../../src/admin/admin-config';
import { ConfigError, describeEnv } from '@settings/shared';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidatorEnvSchema, loadInvalidatorConfig } from '../../src/config';

const local = { SETTINGS_LOCAL_STACK: '1' };

describe('invalidator configuration', () => {
  it('rejects an inconsistent Kafka TLS/SASL combination at load time, naming every problem', () => {
    let err: unknown;
    try {
      loadInvalidatorConfig({ ...local, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SSL_CA_FILE: '/nowhere/ca.crt' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toContain('KAFKA_SASL_USERNAME');
    expect(message).toContain('KAFKA_SSL_CA_FILE');
    expect(message).toContain('KAFKA_SASL_PASSWORD_FILE');
  });

  it('refuses the old REDIS_MAX_OPS_PER_SECOND (commands) instead of silently ignoring it for EVICTION_MAX_KEYS_PER_SECOND (keys)', () => {
    expect(() => loadInvalidatorConfig({ ...local, REDIS_MAX_OPS_PER_SECOND: '5000' })).toThrow(/REDIS_MAX_OPS_PER_SECOND was replaced by EVICTION_MAX_KEYS_PER_SECOND/);
  });

  it('settings-admin inspect reads REDIS_CLUSTER_NODES like the services (on a cluster the URL host is not a node the key lives on)', () => {
    const config = loadAdminInspectConfig({ SETTINGS_LOCAL_STACK: '1', DATABASE_URL: 'postgres://a@127.0.0.1/s', REDIS_CLUSTER_NODES: '10.0.0.1:6379,10.0.0.2:6379' });
    expect(config).toMatchObject({ REDIS_CLUSTER_NODES: ['10.0.0.1:6379', '10.0.0.2:6379'] });
  });

  it('loads the local stack defaults (PLAINTEXT, no SASL)', () => {
    expect(loadInvalidatorConfig(local)).toMatchObject({ KAFKA_SSL: false, KAFKA_SASL_MECHANISM: 'none' });
  });

  it('the README configuration table lists every variable of the schema, in order', () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'));
    const documented = [...table.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.slice(0, describeEnv(invalidatorEnvSchema).length)).toEqual(describeEnv(invalidatorEnvSchema).map((r) => r.name));
  });
});
