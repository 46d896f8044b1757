import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, describeEnv, kafkaClientOptions, kafkaEnv, loadEnv, type KafkaSecurityEnv } from '../../src';

// KAFKA_SSL* / KAFKA_SASL_* → the kafkajs client's `ssl` and `sasl`. Defaults are the local
// stack's PLAINTEXT; every inconsistent combination is a ConfigError listing each problem; the
// password comes from a file and shows up in no message and no serialisation of the options;
// both files are read again when kafkajs uses them (a renewed CA, a changed password).

const PASSWORD = 'pw-Ω-7f3c9e1d-not-in-any-message';
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n';

let dir: string;
let passwordFile: string;
let caFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kafka-client-options-'));
  passwordFile = join(dir, 'password');
  caFile = join(dir, 'ca.crt');
  writeFileSync(passwordFile, PASSWORD); // as Strimzi's User Operator writes it: no newline
  writeFileSync(caFile, CA_PEM);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The security variables as loadEnv yields them from `vars` (the real parsing and defaults). */
function loaded(vars: Record<string, string> = {}): KafkaSecurityEnv {
  return loadEnv(kafkaEnv, { KAFKA_BROKERS: 'kafka:9093', ...vars });
}

function problemsOf(config: KafkaSecurityEnv, readFile?: (path: string) => string): readonly string[] {
  try {
    kafkaClientOptions(config, readFile);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const scram = (extra: Record<string, string> = {}): Record<string, string> => ({
  KAFKA_SSL: 'true',
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'settings-invalidator',
  KAFKA_SASL_PASSWORD_FILE: passwordFile,
  ...extra,
});

it('defaults are PLAINTEXT without authentication: no ssl, no sasl (the local stack)', () => {
  const config = loaded();
  expect(config).toMatchObject({ KAFKA_SSL: false, KAFKA_SSL_CA_FILE: '', KAFKA_SASL_MECHANISM: 'none', KAFKA_SASL_USERNAME: '', KAFKA_SASL_PASSWORD_FILE: '' });
  expect(kafkaClientOptions(config)).toEqual({});
});

it('TLS alone: Node’s CAs (and NODE_EXTRA_CA_CERTS) by default, only the CA file when one is named', () => {
  expect(kafkaClientOptions(loaded({ KAFKA_SSL: 'true' }))).toEqual({ ssl: true });
  expect(kafkaClientOptions(loaded({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: caFile }))).toEqual({ ssl: { ca: [CA_PEM] } });
});

it('SCRAM over TLS (the Kubernetes listener): mechanism, user name, and the password read from its file', () => {
  const options = kafkaClientOptions(loaded(scram({ KAFKA_SSL_CA_FILE: caFile })));
  expect(options.ssl).toEqual({ ca: [CA_PEM] });
  expect(options.sasl).toMatchObject({ mechanism: 'scram-sha-512', username: 'settings-invalidator' });
  expect(options.sasl!.password).toBe(PASSWORD);
  // kafkajs's authenticators read it as a property, which is all they need.
  const { password } = options.sasl!;
  expect(password).toBe(PASSWORD);
  for (const mechanism of ['scram-sha-256', 'plain']) {
    expect(kafkaClientOptions(loaded(scram({ KAFKA_SASL_MECHANISM: mechanism }))).sasl).toMatchObject({ mechanism, password: PASSWORD });
  }
  // SCRAM never sends the password, so it is allowed without TLS (a SASL_PLAINTEXT listener).
  expect(kafkaClientOptions(loaded(scram({ KAFKA_SSL: 'false' })))).toEqual({ sasl: expect.objectContaining({ mechanism: 'scram-sha-512' }) });
});

it('one trailing newline of the password file is not part of the password; other whitespace is', () => {
  const file = join(dir, 'password-newline');
  writeFileSync(file, `${PASSWORD}\n`);
  expect(kafkaClientOptions(loaded(scram({ KAFKA_SASL_PASSWORD_FILE: file }))).sasl!.password).toBe(PASSWORD);
  writeFileSync(file, ` ${PASSWORD} \r\n`);
  expect(kafkaClientOptions(loaded(scram({ KAFKA_SASL_PASSWORD_FILE: file }))).sasl!.password).toBe(` ${PASSWORD} `);
});

it('logging or serialising the options never shows the password', () => {
  const options = kafkaClientOptions(loaded(scram()));
  expect(JSON.stringify(options)).not.toContain(PASSWORD);
  expect(inspect(options, { depth: 10 })).not.toContain(PASSWORD);
  expect(JSON.stringify({ ...options.sasl })).not.toContain(PASSWORD);
  expect(Object.keys(options.sasl!)).toEqual(['mechanism', 'username']);
});

it('a SASL mechanism requires a user name and a password file; each missing one is its own problem', () => {
  expect(problemsOf(loaded({ KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512' }))).toEqual([
    'KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=scram-sha-512',
    'KAFKA_SASL_PASSWORD_FILE is required with KAFKA_SASL_MECHANISM=scram-sha-512 (a file holding the password, e.g. a mounted Secret)',
  ]);
});

it('file problems name the variable and the path, and never the password', () => {
  const missing = join(dir, 'no-such-file');
  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n');
  expect(problemsOf(loaded(scram({ KAFKA_SASL_PASSWORD_FILE: missing })))).toEqual([`KAFKA_SASL_PASSWORD_FILE=${JSON.stringify(missing)}: cannot read the file (ENOENT)`]);
  expect(problemsOf(loaded(scram({ KAFKA_SASL_PASSWORD_FILE: empty })))).toEqual([`KAFKA_SASL_PASSWORD_FILE=${JSON.stringify(empty)}: the file is empty`]);
  expect(problemsOf(loaded({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: missing }))).toEqual([`KAFKA_SSL_CA_FILE=${JSON.stringify(missing)}: cannot read the file (ENOENT)`]);
  // A CA path that points at the password file by mistake: the problem does not echo its content.
  const wrongCa = problemsOf(loaded(scram({ KAFKA_SSL_CA_FILE: passwordFile })));
  expect(wrongCa).toEqual([`KAFKA_SSL_CA_FILE=${JSON.stringify(passwordFile)}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`]);
  // However the configuration is wrong, neither the problems nor the error show the password.
  const wrong: Array<Record<string, string>> = [
    { KAFKA_SASL_USERNAME: '' },
    { KAFKA_SSL: 'false', KAFKA_SASL_MECHANISM: 'plain' },
    { KAFKA_SSL_CA_FILE: passwordFile },
    { KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: passwordFile },
  ];
  for (const vars of wrong) {
    let error: unknown;
    try {
      kafkaClientOptions(loaded(scram(vars)));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    expect([e.message, e.stack, ...e.problems, inspect(e)].join('\n')).not.toContain(PASSWORD);
  }
});

it('settings that would be silently ignored, and PLAIN without TLS, are problems; all are reported together', () => {
  expect(
    problemsOf(loaded({ KAFKA_SSL_CA_FILE: caFile, KAFKA_SASL_USERNAME: 'settings-invalidator', KAFKA_SASL_PASSWORD_FILE: passwordFile })),
  ).toEqual([
    'KAFKA_SSL_CA_FILE is set but KAFKA_SSL is false: set KAFKA_SSL=true to use TLS, or unset the CA file',
    'KAFKA_SASL_USERNAME is set but KAFKA_SASL_MECHANISM is none: set the mechanism (e.g. scram-sha-512), or unset KAFKA_SASL_USERNAME',
    'KAFKA_SASL_PASSWORD_FILE is set but KAFKA_SASL_MECHANISM is none: set the mechanism (e.g. scram-sha-512), or unset KAFKA_SASL_PASSWORD_FILE',
  ]);
  expect(problemsOf(loaded(scram({ KAFKA_SSL: 'false', KAFKA_SASL_MECHANISM: 'plain' })))).toEqual(['KAFKA_SASL_MECHANISM=plain sends the password as is: it requires KAFKA_SSL=true']);
});

it('malformed values are loadEnv problems, like every other variable', () => {
  expect(() => loaded({ KAFKA_SSL: 'maybe', KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(ConfigError);
  try {
    loaded({ KAFKA_SSL: 'maybe', KAFKA_SASL_MECHANISM: 'gssapi' });
  } catch (err) {
    expect((err as ConfigError).problems).toEqual([
      expect.stringMatching(/^KAFKA_SSL="maybe": expected true or false/),
      expect.stringMatching(/^KAFKA_SASL_MECHANISM="gssapi": expected one of none, plain, scram-sha-256, scram-sha-512/),
    ]);
  }
});

it('at start the files are read through the given reader, once each, and only when they are used', () => {
  const reads: string[] = [];
  const reader = (path: string): string => {
    reads.push(path);
    return path === '/ca' ? CA_PEM : PASSWORD;
  };
  kafkaClientOptions(loaded(scram({ KAFKA_SSL_CA_FILE: '/ca', KAFKA_SASL_PASSWORD_FILE: '/pw' })), reader);
  expect(reads).toEqual(['/ca', '/pw']);
  reads.length = 0;
  kafkaClientOptions(loaded(), reader);
  expect(reads).toEqual([]);
});

it('the CA is read again at each new connection (the previous one stays trusted) and the password at each authentication; an unusable read keeps the last good one', () => {
  const files: Record<string, string | Error> = { '/ca': CA_PEM, '/pw': PASSWORD };
  const reader = (path: string): string => {
    const f = files[path]!;
    if (f instanceof Error) throw f;
    return f;
  };
  const options = kafkaClientOptions(loaded(scram({ KAFKA_SSL_CA_FILE: '/ca', KAFKA_SASL_PASSWORD_FILE: '/pw' })), reader);
  const ssl = options.ssl as { ca: string[] };
  // Strimzi renewed the cluster CA; the User Operator changed the password (kubelet rewrote the files).
  const renewed = CA_PEM.replace('MIIB', 'MIIC');
  Object.assign(files, { '/ca': renewed, '/pw': 'new-password\n' });
  // kafkajs copies the TLS options into tls.connect() at each new connection (Object.assign).
  // The previous CA stays trusted too: during a CA key replacement Strimzi publishes the new
  // certificate before the brokers present certificates signed by the new key.
  expect(Object.assign({ host: 'kafka', port: 9093 }, ssl)).toEqual({ host: 'kafka', port: 9093, ca: [renewed, CA_PEM] });
  expect(options.sasl!.password).toBe('new-password');
  // A Secret being rewritten (missing or empty for a moment): the last good value, not a failure.
  Object.assign(files, { '/ca': Object.assign(new Error('gone'), { code: 'ENOENT' }), '/pw': '' });
  expect(ssl.ca).toEqual([renewed, CA_PEM]);
  expect(options.sasl!.password).toBe('new-password');
  Object.assign(files, { '/ca': 'not a certificate', '/pw': Object.assign(new Error('gone'), { code: 'ENOENT' }) });
  expect(ssl.ca).toEqual([renewed, CA_PEM]);
  expect(options.sasl!.password).toBe('new-password');
  // An unchanged file adds nothing; at most three bundles are trusted, the current one first.
  const pems = ['MIID', 'MIIE', 'MIIF'].map((m) => CA_PEM.replace('MIIB', m));
  for (const pem of pems) {
    files['/ca'] = pem;
    expect(ssl.ca[0]).toBe(pem);
    expect(ssl.ca[0]).toBe(pem);
  }
  expect(ssl.ca).toEqual([pems[2], pems[1], pems[0]]);
});

it('docs: every security variable has a default, so the local stack needs none of them', () => {
  const rows = describeEnv(kafkaEnv).filter((r) => /^KAFKA_(SSL|SASL)/.test(r.name));
  expect(rows.map((r) => [r.name, r.default])).toEqual([
    ['KAFKA_SSL', 'false'],
    ['KAFKA_SSL_CA_FILE', ''],
    ['KAFKA_SASL_MECHANISM', 'none'],
    ['KAFKA_SASL_USERNAME', ''],
    ['KAFKA_SASL_PASSWORD_FILE', ''],
  ]);
});
