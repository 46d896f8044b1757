import { percentileSorted, round, sortedCopy } from '../../stats';
import type { VariantResult } from './result';
import type { ReadRec } from './traffic';
import type { WriteLedger } from './write-ledger';

/**
 * Stale reads: a read is stale when a newer version had been acknowledged before it started.
 * Its age is how long before the read the first such write was acknowledged, split by whether
 * that write was a save or the bulk update. `staleByRead[i]` belongs to `reads[i]`.
 */
export function judgeReads(reads: readonly ReadRec[], ledger: WriteLedger): { staleByRead: boolean[]; stale: VariantResult['stale'] } {
  const ages: number[] = [];
  const agesBySave: number[] = [];
  const agesByBulk: number[] = [];
  const staleByRead = reads.map((r) => {
    const first = r.ok ? ledger.firstNewer(r.account, r.version, r.start) : undefined;
    if (!first) return false;
    ages.push(r.start - first.ack);
    (first.kind === 'b' ? agesByBulk : agesBySave).push(r.start - first.ack);
    return true;
  });
  const sorted = sortedCopy(ages);
  const maxOf = (a: number[]): number => (a.length ? Math.max(...a) : 0);
  return {
    staleByRead,
    stale: {
      reads: ages.length,
      share: reads.length ? round(ages.length / reads.length, 4) : 0,
      maxAgeMs: sorted.length ? sorted[sorted.length - 1]! : 0,
      p99AgeMs: sorted.length ? percentileSorted(sorted, 99) : 0,
      fromSaves: { reads: agesBySave.length, maxAgeMs: maxOf(agesBySave) },
      fromBulk: { reads: agesByBulk.length, maxAgeMs: maxOf(agesByBulk) },
    },
  };
}
