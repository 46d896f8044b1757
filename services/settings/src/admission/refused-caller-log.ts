import { LogSampler, type Logger } from '@settings/shared';
import type { AdmissionResult } from './fair-share-limiter';

/**
 * Names the caller refused over its deliberate-read share or rate, at most one line a second.
 * The metric (`settings_deliberate_reads_total{result}`) carries no caller (a label per `sub`
 * would be unbounded), and the refusals are pre-built errors that do not know who they refuse,
 * so without this line an operator facing a flood could not tell whose it is (runbook
 * "Deliberate-read floods"). During a flood the flooder is refused far more often than anyone
 * else, so the one line a second names it; `suppressed` counts the refusals since the line before,
 * of any caller.
 */
export function refusedCallerLog(log: Logger, sampler = new LogSampler(1000)): (result: AdmissionResult, callerId: string) => void {
  return (result, callerId) => {
    if (result !== 'shed' && result !== 'rate_limited') return;
    const suppressed = sampler.take((n) => log.warn({ suppressed: n }, 'deliberate reads refused: more refusals over a caller share or rate in the last second (not logged one by one)'));
    if (suppressed !== undefined) {
      log.warn(
        { caller: callerId, result, suppressed },
        result === 'shed'
          ? 'deliberate read refused: the caller holds its share of deliberate database reads (RESOURCE_EXHAUSTED CALLER_SHARE_EXCEEDED)'
          : 'deliberate read refused: the caller is over its rate of deliberate database reads (RESOURCE_EXHAUSTED CALLER_SHARE_EXCEEDED)',
      );
    }
  };
}
