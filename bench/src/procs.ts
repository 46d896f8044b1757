import { join } from 'node:path';
import { ChildService, freePort, httpGet, INVALIDATOR_NODE_ARGS, repoRoot } from '@settings/local-stack';
import { localDatabaseUrl, localKafkaBrokers } from '@settings/shared';
import { benchDir, benchRedisUrl, type BenchContext } from './context';

/** Starts `node <script>` with `env` added; stdout/stderr go to `<name>.log` in the run's raw folder. */
export function spawnNode(ctx: BenchContext, name: string, script: string, env: Record<string, string>, opts: { args?: string[]; nodeArgs?: readonly string[] } = {}): ChildService {
  return new ChildService(name, script, env, join(ctx.rawDir, `${name}.log`), { ...opts, cwd: repoRoot });
}

/** Prometheus text format → map of `name{labels}` → value (and bare `name` → sum over labels). */
export function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    const series = line.slice(0, sp);
    const value = Number(line.slice(sp + 1));
    if (!Number.isFinite(value)) continue;
    out.set(series, value);
    const brace = series.indexOf('{');
    if (brace > 0) {
      const name = series.slice(0, brace);
      out.set(name, (out.get(name) ?? 0) + value);
    }
  }
  return out;
}

/** A service's /metrics; fails when it does not answer 200 (not up yet, or gone). */
export async function scrape(port: number): Promise<Map<string, number>> {
  const res = await httpGet(port, '/metrics', 5000);
  if (res.status !== 200) throw new Error(`GET 127.0.0.1:${port}/metrics: ${res.status === 0 ? 'no answer' : `status ${res.status}`}`);
  return parseProm(res.body);
}

// ---- the two real services, as child processes from their compiled entry points ----

export type SettingsProc = ChildService & { readonly grpcPort: number; readonly metricsPort: number };

export async function startSettingsProcess(ctx: BenchContext, name: string, extraEnv: Record<string, string> = {}): Promise<SettingsProc> {
  const grpcPort = await freePort();
  const metricsPort = await freePort();
  const env = {
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: String(grpcPort),
    METRICS_PORT: String(metricsPort),
    AUTH_MODE: 'insecure-dev',
    DATABASE_URL: localDatabaseUrl,
    REDIS_URL: benchRedisUrl,
    LOG_LEVEL: 'warn',
    // Entries are a safety net only; a shorter one keeps the benchmark db from accumulating.
    CACHE_ENTRY_TTL_SECONDS: '900',
    SHUTDOWN_GRACE_MS: '2000',
    DB_READ_POOL_MAX: '10',
    DB_WRITE_POOL_MAX: '5',
    ...extraEnv,
  };
  const svc = spawnNode(ctx, name, join(repoRoot, 'services/settings/dist/src/main.js'), env);
  await svc.waitHttpOk(metricsPort, '/readyz', 60_000);
  return Object.assign(svc, { grpcPort, metricsPort });
}

export type InvalidatorProc = ChildService & { readonly httpPort: number; readonly groupId: string };

/** Starts an invalidator; the caller positions `groupId` first (positionGroupAtEnd). */
export async function startInvalidatorProcess(
  ctx: BenchContext,
  name: string,
  groupId: string,
  extraEnv: Record<string, string> = {},
  opts: { waitReady?: boolean } = {},
): Promise<InvalidatorProc> {
  const httpPort = await freePort();
  const env = {
    KAFKA_BROKERS: localKafkaBrokers,
    KAFKA_GROUP_ID: groupId,
    KAFKA_CLIENT_ID: `${ctx.prefix}-invalidator`,
    REDIS_URL: benchRedisUrl,
    HTTP_PORT: String(httpPort),
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const svc = spawnNode(ctx, name, join(repoRoot, 'services/invalidator/dist/src/main.js'), env, { nodeArgs: INVALIDATOR_NODE_ARGS });
  if (opts.waitReady !== false) await svc.waitHttpOk(httpPort, '/readyz', 90_000);
  return Object.assign(svc, { httpPort, groupId });
}

/** Compiled entry points of the benchmark's own servers. */
export const benchScript = (rel: string): string => join(benchDir, 'dist', rel);

/** Waits for a child (every one has an IPC channel: ChildService) to send `{ type: 'ready', port }`. */
export function waitIpcReady(svc: ChildService, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${svc.name} did not report ready in ${timeoutMs} ms; see ${svc.logFile}`)), timeoutMs);
    svc.child.on('message', (m: unknown) => {
      const msg = m as { type?: string; port?: number };
      if (msg.type === 'ready' && typeof msg.port === 'number') {
        clearTimeout(t);
        resolve(msg.port);
      }
    });
    svc.child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${svc.name} exited with ${code} before it was ready; see ${svc.logFile}`));
    });
  });
}

/** Sends an IPC request `{ type, id, ...body }` and waits for the reply with the same id. */
let ipcSeq = 0;
export function ipcCall<T>(svc: ChildService, type: string, body: Record<string, unknown> = {}, timeoutMs = 600_000): Promise<T> {
  const id = ++ipcSeq;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      svc.child.off('message', onMessage);
      reject(new Error(`${svc.name}: no reply to ${type} in ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown): void => {
      const msg = m as { id?: number; error?: string; result?: T };
      if (msg.id !== id) return;
      clearTimeout(t);
      svc.child.off('message', onMessage);
      if (msg.error) reject(new Error(`${svc.name}: ${msg.error}`));
      else resolve(msg.result as T);
    };
    svc.child.on('message', onMessage);
    svc.child.send({ type, id, ...body });
  });
}
