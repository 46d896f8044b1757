import type Redis from 'ioredis';
import type { NearCacheTracking } from '../../src/cache/invalidation-tracking';

/**
 * Loses a replica's Redis invalidation tracking and keeps it lost while `whileOff` runs: the
 * tracking subscriber's connection is killed and, until `whileOff` is done, Redis refuses
 * SUBSCRIBE to the default user (ACL), so the subscriber's set-up fails at each reconnect instead
 * of coming back within one reconnect delay (~50 ms) — a test of what happens while tracking is
 * off cannot race its return. The ACL is restored in any case; resolves once tracking is back on.
 *
 * Only for a Redis that no other process uses while it runs (the test stack's, in band).
 */
export async function withTrackingHeldOff<T>(admin: Redis, tracking: NearCacheTracking, whileOff: () => Promise<T>): Promise<T> {
  const subscriberId = tracking.redirectId;
  if (subscriberId === undefined) throw new Error('tracking is not on');
  await admin.call('ACL', 'SETUSER', 'default', '-subscribe');
  let result: T;
  try {
    await admin.client('KILL', 'ID', subscriberId);
    const until = Date.now() + 2000;
    while (tracking.state === 'on' && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    if (tracking.state !== 'off') throw new Error('tracking did not turn off after its subscriber was killed');
    result = await whileOff();
    // Still off at the end: what `whileOff` checked happened while tracking was lost.
    if (tracking.state !== 'off') throw new Error('tracking came back while SUBSCRIBE was refused');
  } finally {
    await admin.call('ACL', 'SETUSER', 'default', '+subscribe');
  }
  if (!(await tracking.waitOn(10_000))) throw new Error('tracking did not come back within 10 s');
  return result;
}
