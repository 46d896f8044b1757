import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { INVALIDATOR_NODE_ARGS } from './service-node-args';
import { repoRoot } from './state-dir';

/**
 * `npm start`'s last step: run the settings service and the invalidator against the local
 * stack, prefixing their (JSON) log lines, and stop both cleanly on Ctrl-C / SIGTERM.
 * The stack itself keeps running; `npm run stack -- down` stops it.
 */
const services = [
  // Local development runs without authentication, and says so: production sets AUTH_MODE=jwt.
  { name: 'settings', entry: 'services/settings/dist/src/main.js', env: { AUTH_MODE: 'insecure-dev' }, nodeArgs: [] },
  { name: 'invalidator', entry: 'services/invalidator/dist/src/main.js', env: {}, nodeArgs: INVALIDATOR_NODE_ARGS },
];
// Started by the stack's own script: unset endpoints (DATABASE_URL, REDIS_URL, KAFKA_BROKERS)
// mean the local stack. Without this they are required, as they are in production.
const localStackEnv = { SETTINGS_LOCAL_STACK: '1' };

const children: ChildProcess[] = [];
let stopping = false;

function prefixLines(name: string, stream: NodeJS.ReadableStream, out: NodeJS.WritableStream): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) out.write(`[${name}] ${line}\n`);
  });
}

for (const svc of services) {
  const child = spawn(process.execPath, [...svc.nodeArgs, join(repoRoot, svc.entry)], { env: { ...process.env, ...localStackEnv, ...svc.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  prefixLines(svc.name, child.stdout!, process.stdout);
  prefixLines(svc.name, child.stderr!, process.stderr);
  child.on('exit', (code, signal) => {
    process.stderr.write(`[start] ${svc.name} exited (${signal ?? code})\n`);
    if (!stopping) shutdown(1);
  });
  children.push(child);
}
process.stderr.write('[start] settings gRPC on 127.0.0.1:50051 (metrics :9464), invalidator metrics/health on :9465. Ctrl-C stops both; "npm run stack -- down" stops the stack.\n');

function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  // After the services' own drain budgets (settings: SHUTDOWN_GRACE_MS + 10 s = 20 s; the
  // invalidator: runMain's 25 s), as Kubernetes' 30 s grace period would: an invalidator killed
  // sooner never leaves its group, and the next start waits out the session timeout.
  const force = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }, 30_000);
  force.unref();
  const exited = children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r))));
  void Promise.all(exited).then(() => process.exit(code));
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
