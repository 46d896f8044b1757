import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { testRedisEnv } from '@settings/local-stack';

// The compiled service, as it runs in production (npm test builds before jest runs).
const entry = join(__dirname, '../../dist/src/main.js');

/**
 * The invalidator as its own process (signals reach it as in a pod), in consumer group
 * `groupId`, slow enough that a signal lands mid-batch: 2,000 evictions at 200/s take ~10 s.
 * `env` overrides these settings; a variable set to undefined runs with the service's default.
 */
export function startInvalidatorChild(groupId: string, env: Readonly<Record<string, string | undefined>> = {}): ChildProcess {
  return spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      // REDIS_CLUSTER_NODES in the jest project `cluster`.
      ...testRedisEnv(),
      KAFKA_GROUP_ID: groupId,
      HTTP_PORT: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      EVICTION_MAX_KEYS_PER_SECOND: '200',
      REDIS_PIPELINE_SIZE: '50',
      REDIS_EVICTION_BATCH_KEYS: '10',
      BATCH_CHUNK_SIZE: '100',
      // A killed member holds its partitions until its session expires.
      KAFKA_SESSION_TIMEOUT_MS: '8000',
      KAFKA_REBALANCE_TIMEOUT_MS: '10000',
      // Keep the rate at the ceiling on a loaded CI machine (adaptive backoff is tested elsewhere).
      REDIS_LATENCY_TARGET_MS: '2000',
      // Last: a test may override any of the above, or unset it (undefined) to run the default.
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** Resolves with the exit code (null when a signal ended it) once the child has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Ends the child if it still runs (afterAll), with SIGKILL: a test's cleanup waits for nothing. */
export async function killIfRunning(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await exited(child);
}
