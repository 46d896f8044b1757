import { spawnSync } from 'node:child_process';
import { localStack } from '@settings/shared';
import { componentDir } from './state-dir';
import { ManagedProcess } from './managed-process';
import { ensurePortFree } from './port-check';
import { waitUntil } from './wait-until';

const COMPONENT = 'redis';
export const redisProcess = new ManagedProcess(COMPONENT);

function ping(): boolean {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(localStack.redisPort), 'PING'], { encoding: 'utf8', timeout: 2000 });
  return r.stdout?.trim() === 'PONG';
}

export async function startRedis(progress: (msg: string) => void): Promise<void> {
  if (!redisProcess.isRunning()) {
    await ensurePortFree(COMPONENT, localStack.redisPort);
    progress('starting');
    redisProcess.start('redis-server', [
      '--port', String(localStack.redisPort),
      '--bind', '127.0.0.1',
      // A cache: nothing on disk, so a restart is a cold cache, as in production after a failover.
      '--save', '',
      '--appendonly', 'no',
      '--dir', componentDir(COMPONENT),
      // noeviction: evicting a version marker under memory pressure could let an old fill back in.
      // With a full cache, fills fail and reads fall back to Postgres instead (docs/operations.md).
      '--maxmemory', '1gb',
      '--maxmemory-policy', 'noeviction',
    ]);
  }
  await waitUntil(COMPONENT, 'PING', async () => ping(), { timeoutMs: 15_000, log: redisProcess.log, alive: () => redisProcess.isRunning() });
}

export const redisReady = ping;
