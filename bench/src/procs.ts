import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { freePort } from '@settings/local-stack';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { localDatabaseUrl, localKafkaBrokers } from '@settings/shared';
import { benchDir, benchRedisUrl, repoRoot, sleep, type BenchContext } from './context';

export interface ChildService {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Resident set size in KiB from /proc/<pid>/status (undefined once exited). */
  rssKb(): number | undefined;
  /** SIGTERM, wait for exit (SIGKILL after a grace period). */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
}

export function rssKbOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `node <script>` with `env` added, stdout/stderr to a log file under the raw folder. */
export function spawnNode(ctx: BenchContext, name: string, script: string, env: Record<string, string>, opts: { ipc?: boolean; args?: string[] } = {}): ChildService {
  if (!existsSync(script)) throw new Error(`${script} not found: run \`npx tsc -b\` first`);
  const logFile = join(ctx.rawDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [script, ...(opts.args ?? [])], {
    env: { ...process.env, ...env },
    stdio: opts.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
    cwd: repoRoot,
  });
  closeSync(fd);
  // Services under test run at the default priority even though the harness runs above it.
  if (child.pid !== undefined) {
    try {
      setPriority(child.pid, 0);
    } catch {
      /* not permitted: it inherited the harness's priority, which is then also the default */
    }
  }
  let done = false;
  const exitedP = new Promise<void>((resolve) => child.once('exit', () => ((done = true), resolve())));
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  const pid = child.pid;
  return {
    name,
    child,
    pid,
    logFile,
    rssKb: () => (done ? undefined : rssKbOf(pid)),
    exited: () => done,
    async stop(graceMs = 15_000) {
      if (done) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitedP;
      clearTimeout(t);
    },
  };
}

export function httpGet(port: number, path: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export async function waitReady(svc: ChildService, port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (svc.exited()) throw new Error(`${svc.name} exited during start-up; see ${svc.logFile}:\n${tail(svc.logFile)}`);
    try {
      if ((await httpGet(port, '/readyz', 1000)).status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${svc.name} not ready after ${timeoutMs} ms; see ${svc.logFile}:\n${tail(svc.logFile)}`);
    await sleep(100);
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
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

export async function scrape(port: number): Promise<Map<string, number>> {
  return parseProm((await httpGet(port, '/metrics', 5000)).body);
}

// ---- the two real services, as child processes from their compiled entry points ----

export interface SettingsProc extends ChildService {
  readonly grpcPort: number;
  readonly metricsPort: number;
}

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
    DB_POOL_MAX: '10',
    ...extraEnv,
  };
  const svc = spawnNode(ctx, name, join(repoRoot, 'services/settings/dist/src/main.js'), env);
  await waitReady(svc, metricsPort);
  return { ...svc, grpcPort, metricsPort };
}

export interface InvalidatorProc extends ChildService {
  readonly httpPort: number;
  readonly groupId: string;
}

/** Starts an invalidator; the caller positions `groupId` first (see kafka-util.ts). */
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
  const svc = spawnNode(ctx, name, join(repoRoot, 'services/invalidator/dist/src/main.js'), env);
  if (opts.waitReady !== false) await waitReady(svc, httpPort, 90_000);
  return { ...svc, httpPort, groupId };
}

/** Compiled entry points of the benchmark's own servers. */
export const benchScript = (rel: string): string => join(benchDir, 'dist', rel);

/** Waits for a child started with `ipc: true` to send `{ type: 'ready', port }`. */
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
