import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';

/**
 * A Redis server of a test's own, for what the stack's shared one must not go through (made a
 * replica, promoted, filled): on a free port, in a temporary working directory (as a replica it
 * writes the RDB it receives there), no persistence. `admin` is connected; `stop` kills the
 * server and removes the directory.
 */
export interface OwnRedisServer {
  readonly port: number;
  readonly admin: Redis;
  stop(): void;
}

export async function startOwnRedisServer(name: string, args: readonly string[] = []): Promise<OwnRedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `redis-${name}-`));
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], { stdio: 'ignore' });
  const admin = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1 });
  const stop = (): void => {
    admin.disconnect();
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while ((await admin.ping().catch(() => '')) !== 'PONG') {
    if (Date.now() > deadline) {
      stop();
      throw new Error(`the test's own Redis (${name}) did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, admin, stop };
}

/** A port nothing listens on right now (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
