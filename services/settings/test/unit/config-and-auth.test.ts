import { generateKeyPairSync } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { ConfigError, createLogger, describeEnv, localDevJwtHs256Secret } from '@settings/shared';
import { loadSettingsConfig, settingsEnvSchema } from '../../src/config';
import { INSECURE_DEV_TOKEN_SECRET } from '../../src/insecure-dev-guard';
import { authorizeAccount, createAuthenticator, principalFromClaims, requireScope } from '../../src/grpc/auth';
import { jose } from '../../src/grpc/jose';
import { SettingsError } from '../../src/errors';
import { parseDevTokenArgs, UsageError } from '../../src/admin/dev-token';

const secret = 's'.repeat(32);
// The local stack's endpoints: without it DATABASE_URL and REDIS_URL are required.
// The token key is required in jwt mode; the cases below are about other variables.
const local = { SETTINGS_LOCAL_STACK: '1', CONSISTENCY_TOKEN_SECRET: 't'.repeat(32) };
const log = createLogger('test', 'silent');

describe('configuration', () => {
  it('documents every variable; all but the endpoints have a default', () => {
    const rows = describeEnv(settingsEnvSchema);
    expect(rows.map((r) => r.name)).toEqual([
      'REDIS_URL', 'REDIS_CLUSTER_NODES', 'LOG_LEVEL', 'DATABASE_URL', 'GRPC_HOST', 'GRPC_PORT', 'METRICS_PORT', 'AUTH_MODE', 'JWT_PUBLIC_KEY', 'JWT_HS256_SECRET',
      'JWT_PREVIOUS_PUBLIC_KEY', 'JWT_PREVIOUS_HS256_SECRET', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_UNSCOPED_TOKEN_SCOPES', 'JWT_VERIFIED_CACHE_MAX_ENTRIES', 'JWT_VERIFIED_CACHE_MAX_AGE_MS', 'CACHE_ENTRY_TTL_SECONDS', 'CACHE_MARKER_TTL_SECONDS', 'CACHE_NOT_FOUND_TTL_SECONDS', 'DB_READ_POOL_MAX', 'DB_WRITE_POOL_MAX',
      'DB_LOCK_TIMEOUT_MS', 'DB_WRITE_QUEUE_MAX', 'DB_LOCK_WAIT_MAX_CONCURRENCY', 'DB_DELIBERATE_READ_MAX_CONCURRENCY', 'DB_DELIBERATE_READS_PER_CALLER', 'DB_DELIBERATE_READ_MAX_WAIT_MS',
      'DB_DELIBERATE_READS_PER_CALLER_PER_SECOND', 'DB_DELIBERATE_READ_BURST_PER_CALLER', 'DB_DELIBERATE_READ_REFUSAL_DELAY_MS',
      'CONSISTENCY_TOKEN_SECRET', 'CONSISTENCY_TOKEN_PREVIOUS_SECRET', 'DB_FALLBACK_MAX_CONCURRENCY', 'DB_ANSWER_GRACE_MS',
      'DB_STATEMENT_TIMEOUT_MS', 'REDIS_COMMAND_TIMEOUT_MS', 'REDIS_BREAKER_FAILURE_THRESHOLD', 'REDIS_BREAKER_OPEN_MS',
      'STAFF_LIST_CACHE_MAX_ROWS', 'STAFF_LIST_CACHE_MAX_BYTES', 'GRPC_MAX_MESSAGE_BYTES', 'GRPC_MAX_CONCURRENT_STREAMS',
      'WATCH_MAX_STREAMS', 'WATCH_MAX_STREAMS_PER_CALLER', 'WATCH_RESUME_HOLD_MS', 'WATCH_PROGRESS_INTERVAL_MS', 'SHUTDOWN_GRACE_MS', 'NEAR_CACHE_ENABLED', 'NEAR_CACHE_MAX_ENTRIES', 'NEAR_CACHE_MAX_BYTES', 'FILL_LEASE_MS', 'AUDIT_SAMPLE_EVERY',
    ]);
    for (const r of rows) expect(r.description.length).toBeGreaterThan(10);
    const c = loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, CONSISTENCY_TOKEN_SECRET: secret });
    expect(c).toMatchObject({ GRPC_PORT: 50051, METRICS_PORT: 9464, AUTH_MODE: 'jwt', CACHE_ENTRY_TTL_SECONDS: 21600, CACHE_MARKER_TTL_SECONDS: 600, DB_READ_POOL_MAX: 10, DB_WRITE_POOL_MAX: 5, DB_LOCK_TIMEOUT_MS: 250, GRPC_MAX_CONCURRENT_STREAMS: 256, DB_FALLBACK_MAX_CONCURRENCY: 8, REDIS_COMMAND_TIMEOUT_MS: 100, GRPC_MAX_MESSAGE_BYTES: 1048576 });
  });

  it('refuses an entry TTL shorter than half the marker TTL: such an entry stops fencing fills that may still land', () => {
    const base = { ...local, AUTH_MODE: 'insecure-dev', CACHE_MARKER_TTL_SECONDS: '600' };
    expect(() => loadSettingsConfig({ ...base, CACHE_ENTRY_TTL_SECONDS: '60' })).toThrow(/CACHE_ENTRY_TTL_SECONDS \(60\) must be at least half of CACHE_MARKER_TTL_SECONDS \(600\)/);
    expect(loadSettingsConfig({ ...base, CACHE_ENTRY_TTL_SECONDS: '300' }).CACHE_ENTRY_TTL_SECONDS).toBe(300);
  });

  it('jwt mode without a key, a short secret, a bad PEM and bad numbers are all reported together', () => {
    expect(() => loadSettingsConfig(local)).toThrow(/AUTH_MODE=jwt needs JWT_PUBLIC_KEY or JWT_HS256_SECRET/);
    expect(() => loadSettingsConfig({ ...local, AUTH_MODE: 'insecure-dev' })).not.toThrow();
    try {
      loadSettingsConfig({ ...local, JWT_HS256_SECRET: 'short', JWT_PUBLIC_KEY: 'nope' });
      throw new Error('expected ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toHaveLength(2);
    }
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, GRPC_PORT: 'http', AUTH_MODE: 'open' })).toThrow(/GRPC_PORT[\s\S]*AUTH_MODE/);
  });

  // The client library reconnects after 30 s without a message; a longer silence from the server
  // (a resume hold sends nothing, bookmarks further apart) restarts every stream, and a hold
  // restarted by each reconnect never ends.
  it('refuses Watch timings the client library would take for a dead stream', () => {
    const ok = { ...local, JWT_HS256_SECRET: secret };
    expect(loadSettingsConfig({ ...ok, WATCH_RESUME_HOLD_MS: '20000', WATCH_PROGRESS_INTERVAL_MS: '15000' }).WATCH_RESUME_HOLD_MS).toBe(20_000);
    expect(() => loadSettingsConfig({ ...ok, WATCH_RESUME_HOLD_MS: '30000' })).toThrow(/WATCH_RESUME_HOLD_MS/);
    expect(() => loadSettingsConfig({ ...ok, WATCH_PROGRESS_INTERVAL_MS: '30000' })).toThrow(/WATCH_PROGRESS_INTERVAL_MS/);
  });

  it('insecure-dev binds loopback by default, refuses another address and NODE_ENV=production; jwt binds every interface', () => {
    const dev = { ...local, AUTH_MODE: 'insecure-dev' };
    expect(loadSettingsConfig(dev).GRPC_HOST).toBe('127.0.0.1');
    expect(loadSettingsConfig({ ...dev, GRPC_HOST: '::1' }).GRPC_HOST).toBe('::1');
    expect(loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret }).GRPC_HOST).toBe('0.0.0.0');
    expect(loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, GRPC_HOST: '10.0.0.5' }).GRPC_HOST).toBe('10.0.0.5');
    expect(() => loadSettingsConfig({ ...dev, GRPC_HOST: '0.0.0.0' })).toThrow(/insecure-dev binds loopback only; GRPC_HOST=0.0.0.0/);
    expect(() => loadSettingsConfig({ ...dev, NODE_ENV: 'production' })).toThrow(/insecure-dev is refused when NODE_ENV=production/);
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, NODE_ENV: 'production' })).not.toThrow();
  });

  it('the public development keys are fenced like insecure-dev under jwt: loopback by default, no other address, no NODE_ENV=production', () => {
    const devSecret = { ...local, JWT_HS256_SECRET: localDevJwtHs256Secret };
    expect(loadSettingsConfig(devSecret).GRPC_HOST).toBe('127.0.0.1');
    expect(() => loadSettingsConfig({ ...devSecret, GRPC_HOST: '0.0.0.0' })).toThrow(/public development secret binds loopback only/);
    expect(() => loadSettingsConfig({ ...devSecret, NODE_ENV: 'production' })).toThrow(/public development secret is refused when NODE_ENV=production/);
    const devConsistencyKey = { ...local, JWT_HS256_SECRET: secret, CONSISTENCY_TOKEN_SECRET: INSECURE_DEV_TOKEN_SECRET };
    expect(loadSettingsConfig(devConsistencyKey).GRPC_HOST).toBe('127.0.0.1');
    expect(() => loadSettingsConfig({ ...devConsistencyKey, NODE_ENV: 'production' })).toThrow(/public development key is refused/);
  });

  it('a JWT_PUBLIC_KEY jose could not use is a configuration error: a private key, two keys, RSA under 2048 bits', () => {
    const pem = (o: { publicKey: unknown }): string => String(o.publicKey);
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(() => loadSettingsConfig({ ...local, JWT_PUBLIC_KEY: pem(rsa1024) })).toThrow(/RSA key of 1024 bits/);
    expect(() => loadSettingsConfig({ ...local, JWT_PUBLIC_KEY: ec.privateKey })).toThrow(/BEGIN PUBLIC KEY/);
    expect(() => loadSettingsConfig({ ...local, JWT_PUBLIC_KEY: pem(ec) + pem(ec) })).toThrow(/BEGIN PUBLIC KEY/);
    expect(loadSettingsConfig({ ...local, JWT_PUBLIC_KEY: pem(ec) }).JWT_PUBLIC_KEY).toBe(pem(ec));
  });

  it('jwt mode needs a consistency token key of at least 32 bytes; insecure-dev may leave it empty', () => {
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, CONSISTENCY_TOKEN_SECRET: '' })).toThrow(/AUTH_MODE=jwt needs CONSISTENCY_TOKEN_SECRET/);
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, CONSISTENCY_TOKEN_SECRET: 'short' })).toThrow(/CONSISTENCY_TOKEN_SECRET must be at least 32 bytes/);
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, CONSISTENCY_TOKEN_SECRET: secret, CONSISTENCY_TOKEN_PREVIOUS_SECRET: 'short' })).toThrow(/PREVIOUS_SECRET must be/);
    expect(() => loadSettingsConfig({ ...local, AUTH_MODE: 'insecure-dev', CONSISTENCY_TOKEN_SECRET: '' })).not.toThrow();
  });
});

describe('bearer tokens', () => {
  it('verifies ES256 tokens against JWT_PUBLIC_KEY (with literal \\n in the variable)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString().replace(/\n/g, '\\n');
    const auth = await createAuthenticator(loadSettingsConfig({ ...local, JWT_PUBLIC_KEY: pem }), log);
    const token = await new jose.SignJWT({ accounts: ['a1'], scope: 'settings.read' })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('svc')
      .setIssuer('settings-clients')
      .setAudience('settings-service')
      .setExpirationTime('1m')
      .sign(privateKey);
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    const p = await auth.authenticate(md);
    expect(p.subject).toBe('svc');
    expect(p.accounts).toEqual(new Set(['a1']));
    // An HS256 token is refused when only a public key is configured (no algorithm confusion).
    const hs = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('x').setIssuer('settings-clients').setAudience('settings-service').setExpirationTime('1m').sign(new TextEncoder().encode(secret));
    md.set('authorization', `Bearer ${hs}`);
    await expect(auth.authenticate(md)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('during a key rotation accepts tokens signed with the current or the previous key, and no other', async () => {
    const spki = (k: { publicKey: { export(o: { type: 'spki'; format: 'pem' }): string | Buffer } }): string => k.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const [older, newer, stranger] = [0, 1, 2].map(() => generateKeyPairSync('ec', { namedCurve: 'P-256' }));
    const sign = (key: typeof older) =>
      new jose.SignJWT({ accounts: ['a1'], scope: 'settings.read' }).setProtectedHeader({ alg: 'ES256' }).setSubject('svc').setIssuer('settings-clients').setAudience('settings-service').setExpirationTime('1m').sign(key!.privateKey);
    const auth = await createAuthenticator(loadSettingsConfig({ ...local, JWT_PUBLIC_KEY: spki(newer!), JWT_PREVIOUS_PUBLIC_KEY: spki(older!) }), log);
    const check = async (token: string) => {
      const md = new Metadata();
      md.set('authorization', `Bearer ${token}`);
      return auth.authenticate(md);
    };
    expect((await check(await sign(newer))).subject).toBe('svc');
    expect((await check(await sign(older))).subject).toBe('svc');
    await expect(check(await sign(stranger))).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // The same for HS256 secrets; a previous key alone is a configuration error.
    const other = 'o'.repeat(32);
    const hsAuth = await createAuthenticator(loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, JWT_PREVIOUS_HS256_SECRET: other }), log);
    const md = new Metadata();
    md.set('authorization', `Bearer ${await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('old').setIssuer('settings-clients').setAudience('settings-service').setExpirationTime('1m').sign(new TextEncoder().encode(other))}`);
    expect((await hsAuth.authenticate(md)).subject).toBe('old');
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, JWT_PREVIOUS_PUBLIC_KEY: spki(older!) })).toThrow(/JWT_PREVIOUS_PUBLIC_KEY is set without JWT_PUBLIC_KEY/);
  });

  it('claims: accounts list or "*", scope string or array; malformed claims are invalid tokens', () => {
    expect(principalFromClaims({ sub: 's', accounts: ['*'] }).accounts).toBe('all');
    expect(principalFromClaims({ sub: 's' }).accounts).toEqual(new Set());
    expect(principalFromClaims({ sub: 's', scope: 'settings.read other' }).scopes).toEqual(new Set(['settings.read', 'other']));
    expect(() => principalFromClaims({ sub: 's', accounts: ['UPPER'] })).toThrow(SettingsError);
    expect(() => principalFromClaims({ accounts: [] })).toThrow(/no subject/);
    // A subject PostgreSQL cannot store (NUL) or without bound is a malformed credential.
    for (const sub of ['svc\u0000admin', 'line\nbreak', 'x'.repeat(256)]) expect(() => principalFromClaims({ sub })).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(principalFromClaims({ sub: 'x'.repeat(255) }).subject).toHaveLength(255);
    expect(() => principalFromClaims({ sub: 's', scope: 5 })).toThrow(/scope/);
  });

  it('write scope implies read; read scope does not allow writes; no scope claim is read-only', () => {
    const p = (scope?: string) => principalFromClaims({ sub: 's', scope });
    expect(() => requireScope(p('settings.write'), 'read')).not.toThrow();
    expect(() => requireScope(p('settings.read'), 'write')).toThrow(/settings.write/);
    expect(() => requireScope(p(), 'read')).not.toThrow();
    expect(() => requireScope(p(), 'write')).toThrow(/settings.write/);
    expect(() => requireScope(p(), 'permissions-write')).toThrow(/settings.permissions.write/);
  });

  it('PERMISSION_DENIED repeats at most the first 64 characters of a long sub', () => {
    const sub = 'svc-'.padEnd(255, 'x');
    expect(() => authorizeAccount(principalFromClaims({ sub, accounts: ['a1'] }), 'a2')).toThrow(`caller ${sub.slice(0, 64)}…(255 characters) may not access accounts/a2`);
  });

  it('staff permission changes need settings.permissions.write; settings.write is not enough', () => {
    const p = (scope: string) => principalFromClaims({ sub: 's', scope });
    expect(() => requireScope(p('settings.write'), 'permissions-write')).toThrow(/settings.permissions.write/);
    expect(() => requireScope(p('settings.permissions.write'), 'permissions-write')).not.toThrow();
    expect(() => requireScope(p('settings.permissions.write'), 'read')).not.toThrow();
    expect(() => requireScope(p('settings.permissions.write'), 'write')).toThrow(/settings.write/);
  });

  it('JWT_UNSCOPED_TOKEN_SCOPES widens what a token without a scope claim may do; unknown scopes are a config error', async () => {
    const config = loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, JWT_UNSCOPED_TOKEN_SCOPES: 'settings.read settings.write' });
    const auth = await createAuthenticator(config, log);
    const token = await new jose.SignJWT({ accounts: ['*'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('old-client').setIssuer('settings-clients').setAudience('settings-service').setExpirationTime('1m').sign(new TextEncoder().encode(secret));
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    const principal = await auth.authenticate(md);
    expect(() => requireScope(principal, 'write')).not.toThrow();
    expect(() => requireScope(principal, 'permissions-write')).toThrow(SettingsError);
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, JWT_UNSCOPED_TOKEN_SCOPES: 'settings.admin' })).toThrow(/unknown scope\(s\) settings.admin/);
    // Grants are never the default of tokens without a scope claim.
    expect(() => loadSettingsConfig({ ...local, JWT_HS256_SECRET: secret, JWT_UNSCOPED_TOKEN_SCOPES: 'settings.read settings.permissions.write' })).toThrow(/may not include settings.permissions.write/);
  });
});

describe('npm run token (dev-token)', () => {
  const local = { SETTINGS_LOCAL_STACK: '1' };
  it('refuses an empty --sub or --scope instead of minting a token the service always refuses (UNAUTHENTICATED / PERMISSION_DENIED)', () => {
    expect(() => parseDevTokenArgs(['--account', 'a', '--sub', ''], local)).toThrow(UsageError);
    expect(() => parseDevTokenArgs(['--account', 'a', '--scope', ''], local)).toThrow(UsageError);
    expect(() => parseDevTokenArgs(['--account', 'a', '--scope', '  '], local)).toThrow(UsageError);
    expect(parseDevTokenArgs(['--account', 'a'], local)).toMatchObject({ subject: 'dev-user', scopes: ['settings.read'] });
  });
});
