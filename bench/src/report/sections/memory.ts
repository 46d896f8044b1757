import type { MemoryResult, RssStats } from '../../scenarios/memory';
import { fmtNumber as n } from '../format';
import type { ReportPage } from '../report-page';
import { fmt, lineChart, PALETTE } from '../svg';

/** `+20.3 MiB/h`: the slope after warm-up, per hour. */
export const slopePerHourText = (st: RssStats): string => `${st.slopeMiBPerMinute >= 0 ? '+' : ''}${fmt(st.slopeMiBPerMinute * 60)} MiB/h`;

/** `160 → 165 MiB`: RSS where it settled after the warm-up (median of its first minute) → the last sample. */
export const postWarmupText = (st: RssStats): string => `${fmt(st.startMedianMiB)} → ${fmt(st.endMiB)} MiB`;

/** The verdict rule, in words. */
export const MEMORY_RULE =
  '"Growing" needs both the median RSS of the last quarter to exceed that of the second quarter by more than 5 % (the quarter-over-quarter rule) and the least-squares slope after the 10 % warm-up to add more than 10 % of the mean per hour (the slope rule); single GC spikes do neither. Soaks under 2 minutes are too short to judge.';

/**
 * The verdict with what lies under it: a slope rule that fired alone is a rise the soak did not
 * confirm, not "no growth".
 */
export function memoryVerdictText(st: RssStats, soakSeconds: number): string {
  if (st.verdict === 'too short to judge') return 'too short to judge (soak under 2 minutes)';
  if (st.verdict === 'growing') return `**growing** ${slopePerHourText(st)} (${fmt(st.slopePerHourShareOfMean * 100)} % of the mean per hour; both rules)`;
  if (st.slopeRule) return `rising ${slopePerHourText(st)} (${fmt(st.slopePerHourShareOfMean * 100)} % of the mean per hour; not confirmed by the quarter-over-quarter rule in a ${fmt(soakSeconds / 60)}-minute soak)`;
  if (st.quarterRule) return `no growth (last quarter over 5 % above the second, but the slope, ${slopePerHourText(st)}, adds under 10 % of the mean per hour)`;
  return 'no growth';
}

/** Section 5: resident memory of both services over a soak under load. */
export function memorySection(mem: MemoryResult, { md, charts, img }: ReportPage): void {
  md.push('## 5. Memory under load and soak', '');
  md.push(
    `Both services as their own processes (\`node dist/src/main.js\`), RSS from \`/proc/<pid>/status\` (VmRSS) every second for ${fmt(mem.soakSeconds)} s under steady load: ` +
      `h2load Gets at ${mem.load.h2loadReadRps}/s (${n(mem.load.h2loadRequests)} served), harness Gets over 2000 accounts at ${mem.load.harnessReadsPerSecond}/s (misses and fills), saves at ${mem.load.writesPerSecond}/s (${n(mem.load.writes)} done, ${mem.load.writeErrors} failed) which the invalidator evicts.`,
    '',
  );
  charts['memory-soak.svg'] = lineChart({
    title: 'Resident memory during the soak',
    xLabel: 'seconds',
    yLabel: 'RSS (MiB)',
    series: [
      { name: 'settings service', color: PALETTE[0], points: mem.series.map((p) => [p.s, p.settingsMiB]) },
      { name: 'invalidator', color: PALETTE[1], points: mem.series.map((p) => [p.s, p.invalidatorMiB]) },
    ],
  });
  md.push(img('memory-soak.svg', 'RSS over the soak'), '');
  md.push(
    '| Process | Start (median of the first minute after the 10 % warm-up) | First sample after warm-up | End | Max | Mean | Slope after warm-up | Verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const [name, st] of [
    ['settings service', mem.settings],
    ['invalidator', mem.invalidator],
  ] as const)
    md.push(
      `| ${name} | ${fmt(st.startMedianMiB)} MiB | ${fmt(st.startMiB)} MiB | ${fmt(st.endMiB)} MiB | ${fmt(st.maxMiB)} MiB | ${fmt(st.meanMiB)} MiB | ${slopePerHourText(st)} (${st.slopeMiBPerMinute.toFixed(3)} MiB/min; ${fmt(st.slopePerHourShareOfMean * 100)} % of the mean per hour) | ${memoryVerdictText(st, mem.soakSeconds)} |`,
    );
  md.push('', `${MEMORY_RULE} The first sample after the warm-up can be a GC high-water mark; the start is the median of the minute after it.`, '');
}
