import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { BadRequest, createSettingsClient, ErrorInfo, RetryInfo, SettingsApiError, SettingsServiceClient, SettingsServiceService, Status, type SettingsClient } from '@settings/api';
import type { DestinationStream } from 'pino';
import { createLogger, localStack } from '@settings/shared';
import { pgQuery, testRedisEnv, uniqueId } from '@settings/local-stack';
import { startSettingsServer, type RunningSettingsServer, type StartOptions } from '../../src/app';
import { loadSettingsConfig, type SettingsConfig } from '../../src/config';
import { jose } from '../../src/grpc/jose';

export { uniqueId, waitFor } from '@settings/local-stack';

export const TEST_HS256_SECRET = 'settings-service-tests-only-secret-0123456789';
export const TEST_CONSISTENCY_TOKEN_SECRET = 'settings-service-tests-only-token-key-0123456789';

export function testConfig(overrides: Record<string, string> = {}): SettingsConfig {
  return loadSettingsConfig({
    // The local stack's endpoints (DATABASE_URL, REDIS_URL) unless an override names others.
    SETTINGS_LOCAL_STACK: '1',
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: '0',
    METRICS_PORT: '0',
    AUTH_MODE: 'jwt',
    JWT_HS256_SECRET: TEST_HS256_SECRET,
    CONSISTENCY_TOKEN_SECRET: TEST_CONSISTENCY_TOKEN_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    // Test keys are unique per run; a short TTL keeps them from piling up in the shared Redis.
    CACHE_ENTRY_TTL_SECONDS: '300',
    SHUTDOWN_GRACE_MS: '2000',
    // REDIS_CLUSTER_NODES in the jest project `cluster`.
    ...testRedisEnv(),
    ...overrides,
  });
}

/** Every scope of the API: the harness token may read, write settings and change staff permissions. */
export const ALL_SCOPES = 'settings.read settings.write settings.permissions.write';

export interface TokenClaims {
  sub?: string;
  accounts?: unknown;
  /** Default ALL_SCOPES; null leaves the claim out (such a token is read-only by default). */
  scope?: unknown;
  iss?: string;
  aud?: string;
  expiresIn?: string;
  secret?: string;
}

export async function mintToken(claims: TokenClaims = {}): Promise<string> {
  const { sub = 'test-caller', accounts = ['*'], scope = ALL_SCOPES, iss = 'settings-clients', aud = 'settings-service', expiresIn = '5m', secret = TEST_HS256_SECRET } = claims;
  const payload: Record<string, unknown> = { accounts };
  if (scope !== null) payload.scope = scope;
  return new jose.SignJWT(payload as Record<string, string>)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer(iss)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

type Methods = typeof SettingsServiceService;
/** The unary methods (`call`); WatchSettings streams and has its own tests (watch-*.test.ts). */
export type MethodName = Exclude<keyof Methods, 'watchSettings'>;
export type RequestOf<K extends MethodName> = Parameters<Methods[K]['requestSerialize']>[0];
export type ResponseOf<K extends MethodName> = ReturnType<Methods[K]['responseDeserialize']>;

export interface CallOpts {
  /** Bearer token; null sends no authorization metadata. Default: the harness token. */
  token?: string | null;
  deadlineMs?: number;
}

export interface TestServer {
  readonly running: RunningSettingsServer;
  readonly client: Client;
  readonly config: SettingsConfig;
  /** A token for every account with every scope (sub `test-caller`). */
  readonly token: string;
  call<K extends MethodName>(method: K, req: RequestOf<K>, opts?: CallOpts): Promise<ResponseOf<K>>;
  close(): Promise<void>;
}

/** `logTo`: where the server's log lines go (stdout when not given), for a test that checks one. */
export async function startTestServer(overrides: Record<string, string> = {}, options: StartOptions = {}, logTo?: DestinationStream): Promise<TestServer> {
  const config = testConfig(overrides);
  const running = await startSettingsServer(config, createLogger('settings-test', config.LOG_LEVEL, logTo), options);
  const client = new SettingsServiceClient(`127.0.0.1:${running.port}`, credentials.createInsecure());
  const token = await mintToken();
  // Calls go through the package's own client (the one backend teams use), one per token, with
  // retries off so a test sees exactly what one call returns; `client` stays the raw generated
  // client for streams and raw frames.
  const clients = new Map<string | null, SettingsClient>();
  const clientFor = (bearer: string | null): SettingsClient => {
    let c = clients.get(bearer);
    if (!c) {
      c = createSettingsClient({ address: `127.0.0.1:${running.port}`, credentials: credentials.createInsecure(), retry: { maxAttempts: 1 }, ...(bearer === null ? {} : { token: bearer }) });
      clients.set(bearer, c);
    }
    return c;
  };
  const call = <K extends MethodName>(method: K, req: RequestOf<K>, opts: CallOpts = {}): Promise<ResponseOf<K>> => {
    const bearer = opts.token === undefined ? token : opts.token;
    const send = clientFor(bearer)[method] as (r: RequestOf<K>, o: { deadlineMs: number }) => Promise<ResponseOf<K>>;
    return send(req, { deadlineMs: opts.deadlineMs ?? 10_000 });
  };
  return {
    running,
    client,
    config,
    token,
    call,
    async close() {
      client.close();
      for (const c of clients.values()) c.close();
      await running.stop();
    },
  };
}

/**
 * The server of a test file or describe block: started before its tests, closed after them.
 * The handle forwards to it, so tests and later hooks use it as the server itself.
 */
export function serverForTests(overrides: Record<string, string> = {}, options: StartOptions = {}, logTo?: DestinationStream): TestServer {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer(overrides, options, logTo);
  });
  afterAll(() => server?.close());
  const current = (): TestServer => {
    if (!server) throw new Error('the test server is not started yet: use it inside a test or a hook declared after serverForTests()');
    return server;
  };
  const handle = { call: (method, req, opts) => current().call(method, req, opts), close: () => current().close() } as TestServer;
  for (const key of ['running', 'client', 'config', 'token'] as const) Object.defineProperty(handle, key, { get: () => current()[key] });
  return handle;
}

export interface DecodedError {
  code: number;
  message: string;
  reason?: string;
  fieldViolations: Array<{ field: string; description: string }>;
  /** google.rpc.RetryInfo's retry_delay, when the error carries one. */
  retryDelayMs?: number;
}

/** The AIP-193 payload of a failed call: status code, ErrorInfo reason, BadRequest violations. */
export function decodeError(err: unknown): DecodedError {
  if (err instanceof SettingsApiError) {
    return {
      code: err.code,
      message: err.details,
      ...(err.reason !== undefined ? { reason: err.reason } : {}),
      fieldViolations: err.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
      ...(err.retryDelayMs !== undefined ? { retryDelayMs: err.retryDelayMs } : {}),
    };
  }
  const e = err as ServiceError;
  const raw = e.metadata?.get('grpc-status-details-bin')[0];
  const out: DecodedError = { code: e.code, message: e.details, fieldViolations: [] };
  if (!Buffer.isBuffer(raw)) return out;
  const status = Status.decode(raw);
  for (const any of status.details) {
    if (any.typeUrl === 'type.googleapis.com/google.rpc.BadRequest') {
      out.fieldViolations = BadRequest.decode(any.value).fieldViolations.map((v) => ({ field: v.field, description: v.description }));
    } else if (any.typeUrl === 'type.googleapis.com/google.rpc.ErrorInfo') {
      out.reason = ErrorInfo.decode(any.value).reason;
    } else if (any.typeUrl === 'type.googleapis.com/google.rpc.RetryInfo') {
      const d = RetryInfo.decode(any.value).retryDelay;
      out.retryDelayMs = d ? d.seconds * 1000 + d.nanos / 1e6 : 0;
    }
  }
  return out;
}

/** Runs `fn` expecting it to fail; returns the decoded error. */
export async function expectError(fn: () => Promise<unknown>): Promise<DecodedError> {
  try {
    await fn();
  } catch (err) {
    return decodeError(err);
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export const db = (sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> => pgQuery(localStack.database, sql, params);

/** Removes everything a test wrote for these accounts (never truncates: other suites share the tables). */
export async function deleteAccounts(accountIds: readonly string[]): Promise<void> {
  if (accountIds.length === 0) return;
  for (const table of ['account_settings', 'doctor_settings', 'onpatient_settings', 'staff_permissions', 'staff_permission_lists', 'staff_permission_audit']) {
    await db(`DELETE FROM ${table} WHERE account_id = ANY($1)`, [accountIds]);
  }
}

/**
 * Returns a maker of fresh account ids; every id it made is deleted after the file's tests
 * (it registers the afterAll), so a test file leaves nothing behind in the shared tables.
 */
export function accountsDeletedAfterAll(): () => string {
  const accounts: string[] = [];
  afterAll(() => deleteAccounts(accounts));
  return () => {
    const a = uniqueId();
    accounts.push(a);
    return a;
  };
}

/** Current value of a counter/gauge (summed over label sets matching `labels`). */
export async function metricValue(running: RunningSettingsServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = running.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}
