/**
 * A gRPC front for a legacy cache (legacy-cache.ts) with the settings service's paths for
 * GetAccountSettings and UpdateAccountSettings, so the incident replay drives all three
 * variants with the same client and the same messages. Child-process entry:
 *   LEGACY_STRATEGY=ttl-only|delete-on-write|clear-all-on-write LEGACY_KEY_PREFIX=... \
 *   LEGACY_REDIS_URL=redis://.../7 DATABASE_URL=... node legacy-server.js
 * IPC: reports `{ type: 'ready', port }`; answers `stats` requests. Bulk updates run in bulk-job.ts.
 */
import { Server, status, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { GetAccountSettingsRequest, UpdateAccountSettingsRequest } from '@settings/api';
import { listenAndReportReady, settingsMethod } from '../src/servers/settings-method';
import { LegacySettingsCache, LEGACY_STRATEGIES, type LegacyStrategy } from './legacy-cache';

const strategy = process.env.LEGACY_STRATEGY as LegacyStrategy;
if (!LEGACY_STRATEGIES.includes(strategy)) throw new Error(`LEGACY_STRATEGY must be one of ${LEGACY_STRATEGIES.join(', ')}`);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.LEGACY_DB_POOL_MAX ?? 10), application_name: `bench-legacy-${strategy}` });
const redis = new Redis(process.env.LEGACY_REDIS_URL ?? '', { maxRetriesPerRequest: 1 });
const cache = new LegacySettingsCache({
  pool,
  redis,
  keyPrefix: process.env.LEGACY_KEY_PREFIX ?? '',
  ttlSeconds: Number(process.env.LEGACY_TTL_SECONDS ?? 300),
  strategy,
});

const NAME = /^accounts\/([a-z0-9][a-z0-9_-]{0,62})\/settings$/;

const definition: ServiceDefinition = {
  GetAccountSettings: settingsMethod('GetAccountSettings', GetAccountSettingsRequest),
  UpdateAccountSettings: settingsMethod('UpdateAccountSettings', UpdateAccountSettingsRequest),
};

function reply(callback: sendUnaryData<Buffer>, work: Promise<Buffer | undefined>, what: string): void {
  work.then(
    (payload) => (payload ? callback(null, payload) : callback({ code: status.NOT_FOUND, details: `${what} not found` })),
    (err: unknown) => callback({ code: status.UNAVAILABLE, details: err instanceof Error ? err.message : String(err) }),
  );
}

const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
server.addService(definition, {
  GetAccountSettings: (call: ServerUnaryCall<GetAccountSettingsRequest, Buffer>, callback: sendUnaryData<Buffer>) => {
    const m = NAME.exec(call.request.name);
    if (!m) return callback({ code: status.INVALID_ARGUMENT, details: 'bad name' });
    reply(callback, cache.get(m[1]!), call.request.name);
  },
  UpdateAccountSettings: (call: ServerUnaryCall<UpdateAccountSettingsRequest, Buffer>, callback: sendUnaryData<Buffer>) => {
    const m = NAME.exec(call.request.accountSettings?.name ?? '');
    if (!m) return callback({ code: status.INVALID_ARGUMENT, details: 'bad name' });
    reply(callback, cache.save(m[1]!, call.request.accountSettings?.displayName ?? ''), call.request.accountSettings?.name ?? '');
  },
});

process.on('message', (msg: { type: string; id: number }) => {
  if (msg.type === 'stats') process.send?.({ id: msg.id, result: cache.counters });
});

listenAndReportReady(server, 'legacy server');

process.on('SIGTERM', () => {
  server.tryShutdown(() => {
    void Promise.allSettled([pool.end(), redis.quit()]).then(() => process.exit(0));
  });
});
