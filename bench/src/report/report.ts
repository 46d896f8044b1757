import type { BenchResults } from '../results';
import { headlineTable } from './headline';
import { readmeSnippet } from './readme-snippet';
import { reportPage } from './report-page';
import { caveatsSection } from './sections/caveats';
import { consistentFloodSection } from './sections/consistent-flood';
import { evictionThroughputSection } from './sections/eviction-throughput';
import { eventFormatSection } from './sections/event-format';
import { bulkDrainSection } from './sections/bulk-drain';
import { incidentReplaySection } from './sections/incident-replay';
import { invalidationLagSection } from './sections/invalidation-lag';
import { machineSection } from './sections/machine';
import { memorySection } from './sections/memory';
import { readPathSection } from './sections/read-path';
import { coldStartSection } from './sections/cold-start';
import { notFoundSection } from './sections/not-found';
import { l1CoherenceSection } from './sections/l1-coherence';
import { watchSection } from './sections/watch';
import { redisClusterSection } from './sections/redis-cluster';

/**
 * REPORT.md and its charts from one run's results: headline, machine, one section per scenario
 * that ran (sections/), the README snippet, caveats. Charts are returned by file name, to be
 * written under `chartDir`.
 */
export function renderReport(r: BenchResults, chartDir: string): { markdown: string; charts: Record<string, string> } {
  const page = reportPage(chartDir);
  const { md } = page;
  md.push('# Settings cache — benchmark report', '');
  md.push(
    `Run \`${r.runId}\` (${r.mode} mode), ${r.startedAt} → ${r.finishedAt} (${Math.round(r.durationSeconds / 60)} min). ` +
      `Every number comes from the real local stack; each comparison was measured in the same run, interleaved, and the numbers are medians over the repetitions.`,
    '',
  );
  if (r.mode === 'quick') md.push('> **Quick mode**: a smoke run of a few seconds per scenario with small data. Do not quote these numbers.', '');
  md.push('## Headline', '', headlineTable(r), '');
  if (r.retries.length)
    md.push('**Scenarios repeated in this run** (first attempt failed or was disturbed by the shared stack; only the repeat is reported):', '', ...r.retries.map((e) => `- ${e.scenario}: ${e.message}`), '');
  if (r.errors.length) md.push('**Scenarios that failed in this run:**', '', ...r.errors.map((e) => `- ${e.scenario}: ${e.message}`), '');
  machineSection(r, md);

  if (r.readPath) readPathSection(r.readPath, page);
  if (r.coldStart) coldStartSection(r.coldStart, page);
  if (r.notFound) notFoundSection(r.notFound, page);
  if (r.l1Coherence) l1CoherenceSection(r.l1Coherence, page);
  if (r.invalidationLag) invalidationLagSection(r.invalidationLag, r.sizes.lag, page);
  if (r.evictionThroughput) evictionThroughputSection(r.evictionThroughput, page);
  if (r.eventFormat) eventFormatSection(r.eventFormat, page);
  if (r.bulkDrain) bulkDrainSection(r.bulkDrain, r.sizes.bulkDrain, page);
  if (r.incidentReplay) incidentReplaySection(r.incidentReplay, page);
  if (r.consistentFlood) consistentFloodSection(r.consistentFlood, page);
  if (r.memory) memorySection(r.memory, page);
  if (r.watch) watchSection(r.watch, page);
  if (r.redisCluster) redisClusterSection(r.redisCluster, page);

  md.push('## For the root README', '', 'Paste under "Performance":', '', '```markdown', readmeSnippet(r), '```', '');
  caveatsSection(md);
  md.push('## Files', '', '- `results.json`: everything above, machine-readable; one JSON per scenario beside it.', `- \`${chartDir}/*.svg\`: the charts.`, '- `raw/<run>/`: service logs of the run (git-ignored).', '');
  return { markdown: md.join('\n'), charts: page.charts };
}
