import { readFileSync } from 'node:fs';
import type { KafkaSaslMechanism, kafkaEnv } from './common-env';
import { ConfigError, type EnvValues } from './env-config';

/** The Kafka security variables of `kafkaEnv`, as loaded. */
export type KafkaSecurityEnv = Pick<EnvValues<typeof kafkaEnv>, 'KAFKA_SSL' | 'KAFKA_SSL_CA_FILE' | 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD_FILE'>;

/**
 * The `ssl` and `sasl` of a kafkajs `KafkaConfig` (structurally: this package does not depend
 * on kafkajs). Absent keys mean PLAINTEXT without authentication, the local stack.
 */
export interface KafkaClientSecurity {
  /**
   * `true`: Node's CAs (plus NODE_EXTRA_CA_CERTS); `{ ca }`: only the CA file's bundle (read again
   * at every new connection; see trustedCas). Host names are verified either way.
   */
  ssl?: true | { ca: string[] };
  /**
   * `password` is read from its file again at every authentication, and is not enumerable:
   * logging or serialising the options does not show it.
   */
  sasl?: KafkaSaslOptions;
}

type SaslMechanism = Exclude<KafkaSaslMechanism, 'none'>;
/** One member per mechanism, as kafkajs's `SASLOptions` is a union discriminated by `mechanism`. */
export type KafkaSaslOptions = { [M in SaslMechanism]: { mechanism: M; username: string; password: string } }[SaslMechanism];

/** Reads a file as UTF-8; tests pass their own. */
export type ReadTextFile = (path: string) => string;

const readUtf8: ReadTextFile = (path) => readFileSync(path, 'utf8');

/**
 * The Kafka client's TLS and SASL options from the configuration, reading the CA bundle and
 * the password file. Every problem, of the variables together and of the files, is collected
 * into one ConfigError naming the variables (and file paths, never a file's content).
 * Call it at start-up, before anything connects: the files must be usable then; later reads
 * pick up a renewed CA or a changed password (see `reread`).
 */
export function kafkaClientOptions(config: KafkaSecurityEnv, readFile: ReadTextFile = readUtf8): KafkaClientSecurity {
  const problems: string[] = [];
  const options: KafkaClientSecurity = {};

  if (config.KAFKA_SSL) {
    if (config.KAFKA_SSL_CA_FILE === '') options.ssl = true;
    else {
      const path = config.KAFKA_SSL_CA_FILE;
      const pem = readOrReport(readFile, 'KAFKA_SSL_CA_FILE', path, problems);
      if (pem !== undefined && !isPem(pem)) problems.push(`KAFKA_SSL_CA_FILE=${JSON.stringify(path)}: no PEM certificate (${PEM_CERT}) in the file`);
      else if (pem !== undefined) options.ssl = trustedCas(pem, () => readFile(path));
    }
  } else if (config.KAFKA_SSL_CA_FILE !== '') {
    problems.push('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is false: set KAFKA_SSL=true to use TLS, or unset the CA file');
  }

  const mechanism = config.KAFKA_SASL_MECHANISM;
  if (mechanism === 'none') {
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD_FILE'] as const) {
      if (config[name] !== '') problems.push(`${name} is set but KAFKA_SASL_MECHANISM is none: set the mechanism (e.g. scram-sha-512), or unset ${name}`);
    }
  } else {
    if (config.KAFKA_SASL_USERNAME === '') problems.push(`KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=${mechanism}`);
    if (mechanism === 'plain' && !config.KAFKA_SSL) problems.push('KAFKA_SASL_MECHANISM=plain sends the password as is: it requires KAFKA_SSL=true');
    let password: string | undefined;
    if (config.KAFKA_SASL_PASSWORD_FILE === '') problems.push(`KAFKA_SASL_PASSWORD_FILE is required with KAFKA_SASL_MECHANISM=${mechanism} (a file holding the password, e.g. a mounted Secret)`);
    else {
      const raw = readOrReport(readFile, 'KAFKA_SASL_PASSWORD_FILE', config.KAFKA_SASL_PASSWORD_FILE, problems);
      password = raw === undefined ? undefined : passwordOf(raw);
      if (password === '') problems.push(`KAFKA_SASL_PASSWORD_FILE=${JSON.stringify(config.KAFKA_SASL_PASSWORD_FILE)}: the file is empty`);
    }
    if (password) {
      const path = config.KAFKA_SASL_PASSWORD_FILE;
      const sasl = { mechanism, username: config.KAFKA_SASL_USERNAME } as KafkaSaslOptions;
      let last = password;
      // Not enumerable: logging or serialising the options does not show it.
      Object.defineProperty(sasl, 'password', { enumerable: false, get: () => (last = reread(() => passwordOf(readFile(path)), (p) => p !== '') ?? last) });
      options.sasl = sasl;
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return options;
}

const PEM_CERT = '-----BEGIN CERTIFICATE-----';
const isPem = (text: string): boolean => text.includes(PEM_CERT);
/** Secrets written with `echo` or an editor end in a newline that is not part of the password. */
const passwordOf = (text: string): string => text.replace(/\r?\n$/, '');

// The files are read again each time kafkajs uses them: the CA bundle at every new TLS
// connection (kafkajs copies `ssl` into tls.connect() then), the password at every SASL
// authentication. The kubelet updates a mounted Secret in place, so a cluster CA that Strimzi
// renews, or a password the User Operator regenerates, is picked up without a restart; a
// process holding only the old CA certificate would fail every new connection once it expires.
// A read that fails or yields nothing usable (a Secret being rewritten) keeps the last good value.

/** `read()` if it succeeds with something `usable`, else undefined. */
function reread(read: () => string, usable: (text: string) => boolean): string | undefined {
  try {
    const text = read();
    return usable(text) ? text : undefined;
  } catch {
    return undefined; // the start-up check already named any configuration problem
  }
}

/** Most CA bundles trusted at once: the file's current one and those it held before. */
const MAX_TRUSTED_CA_BUNDLES = 3;

/**
 * `{ ca }` with the file's current bundle first, followed by the bundles it held earlier in
 * this process's life: when Strimzi replaces the CA key it publishes the new certificate before
 * the brokers present certificates signed by the new key, so the old one must stay trusted
 * until then. A restart trusts only the current file.
 */
function trustedCas(first: string, read: () => string): { ca: string[] } {
  let bundles = [first];
  return Object.defineProperty({}, 'ca', {
    enumerable: true,
    get: (): string[] => {
      const now = reread(read, isPem);
      if (now !== undefined && now !== bundles[0]) bundles = [now, ...bundles.filter((b) => b !== now)].slice(0, MAX_TRUSTED_CA_BUNDLES);
      return [...bundles];
    },
  }) as { ca: string[] };
}

/** The file's text, or undefined with a problem naming the variable, the path and why (never the content). */
function readOrReport(readFile: ReadTextFile, name: string, path: string, problems: string[]): string | undefined {
  try {
    return readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    problems.push(`${name}=${JSON.stringify(path)}: cannot read the file (${e.code ?? e.message})`);
    return undefined;
  }
}
