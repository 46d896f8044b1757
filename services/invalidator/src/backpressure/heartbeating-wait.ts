import { performance } from 'node:perf_hooks';

/** What a wait inside a batch needs from its consumer. */
export interface BatchWaitHooks {
  /** Keeps the consumer group membership alive. */
  heartbeat(): Promise<void>;
  /** True when the batch must be abandoned (shutdown or rebalance). */
  shouldAbort(): boolean;
}

/** Longest sleep between two heartbeats of a wait: kafkajs sends one only when asked. */
const SLICE_MS = 250;

/**
 * Waits `ms` inside a batch without being taken for dead: a heartbeat every 250 ms (kafkajs
 * sends one when its heartbeat interval has passed, and only when asked; one sleep as long as
 * the session would lose the membership), and returns early once the batch must be abandoned.
 * A monotonic clock: a wall clock stepped back stretched the wait by the step.
 */
export async function heartbeatingWait(ms: number, hooks: BatchWaitHooks): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until && !hooks.shouldAbort()) {
    await hooks.heartbeat().catch(() => undefined);
    await new Promise((r) => setTimeout(r, Math.min(SLICE_MS, until - performance.now())));
  }
  await hooks.heartbeat().catch(() => undefined);
}

/**
 * Runs `work` inside a batch with a heartbeat every 250 ms until it settles: a dead-letter send
 * to a broker that never answers waits out the Kafka client's request timeout (30 s), longer
 * than a session, and nothing else would heartbeat meanwhile. kafkajs sends a heartbeat only once
 * its interval has passed, so asking often costs nothing. A failing heartbeat (a rebalance) does
 * not end the work: the caller checks `shouldAbort` after it.
 */
export async function withHeartbeats<T>(work: Promise<T>, hooks: BatchWaitHooks): Promise<T> {
  // One heartbeat at a time: kafkajs records a heartbeat's time only once it is answered, so
  // against a slow coordinator every tick would send another.
  let beating = false;
  const ticker = setInterval(() => {
    if (beating) return;
    beating = true;
    void hooks
      .heartbeat()
      .catch(() => undefined)
      .finally(() => (beating = false));
  }, SLICE_MS);
  try {
    return await work;
  } finally {
    clearInterval(ticker);
  }
}
