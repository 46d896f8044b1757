import type { L1CoherenceResult } from '../../scenarios/l1-coherence';
import { fmtMs as ms, fmtNumber as n } from '../format';
import type { ReportPage } from '../report-page';

/** Section 1c: how long a replica's near-cache keeps an entry after the invalidator's marker. */
export function l1CoherenceSection(r: L1CoherenceResult, { md }: ReportPage): void {
  md.push('## 1d. Near-cache coherence: marker → L1 entry gone', '');
  md.push(
    `A settings server runs inside the harness, so the moment its near-cache drops an entry is read on the same clock as the marker write. ${n(r.warmedInL1)} of ${n(r.keys)} keys were served from L1 first; ` +
      "then the invalidator's own script (`evictToMarker`) wrote each key's marker from another connection, one at a time, and the time from sending it to Redis' invalidation push " +
      `having removed the L1 entry was recorded: p50 ${ms(r.markerToL1Gone.p50)}, p99 ${ms(r.markerToL1Gone.p99)}, max ${ms(r.markerToL1Gone.max)} (${n(r.markerToL1Gone.count)} samples). ` +
      `Entries still in L1 5 s after their marker: ${n(r.notDropped)}. The end-to-end commit → marker time is section 2's invalidation lag; the near-cache adds this on top.`,
    '',
  );
}
