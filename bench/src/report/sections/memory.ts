import type { MemoryResult } from '../../scenarios/memory';
import { fmtNumber as n } from '../format';
import type { ReportPage } from '../report-page';
import { fmt, lineChart, PALETTE } from '../svg';

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
  md.push('| Process | Start (after 10 % warm-up) | End | Max | Mean | Slope after warm-up | Verdict |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const [name, st] of [
    ['settings service', mem.settings],
    ['invalidator', mem.invalidator],
  ] as const)
    md.push(`| ${name} | ${fmt(st.startMiB)} MiB | ${fmt(st.endMiB)} MiB | ${fmt(st.maxMiB)} MiB | ${fmt(st.meanMiB)} MiB | ${st.slopeMiBPerMinute.toFixed(3)} MiB/min | ${st.verdict === 'growing' ? '**growing**' : st.verdict} |`);
  md.push('', '"Growing" would need the median RSS of the last quarter to exceed that of the second quarter by more than 5 % and the slope after warm-up to add more than 10 % of the mean per hour; single GC spikes do neither.', '');
}
