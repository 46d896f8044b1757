import type { EventFormatResult } from '../../scenarios/event-format';
import { fmtDecimal as d3, fmtNumber as n, fmtRatio as x } from '../format';
import type { ReportPage } from '../report-page';

/** Section 4b: the change events' format, lean against Debezium's nested envelope. */
export function eventFormatSection(ef: EventFormatResult, { md }: ReportPage): void {
  md.push('## 4b. Change-event format: lean against nested', '');
  md.push(
    `The same bulk UPDATE of ${n(ef.rows)} accounts, published with the optional lean transforms (\`${ef.transforms}\`, deploy/debezium/lean-transforms.json: the cached tables' events flattened and cut to key columns, \`version\`, \`op\`, the source table and the commit time) and without them (Debezium's nested envelope, the default), ` +
      `the connector re-registered between UPDATEs and the order alternated after a warm-up round of each; each UPDATE's events, the end of the topic, are drained 5 s after they are published by a fresh invalidator process with its ceiling off. ` +
      `CPU from \`/proc/<pid>/stat\`: the Kafka Connect JVM from the UPDATE to the last event in Kafka, the invalidator from before its first event to its last key.`,
    '',
  );
  md.push('| Format | Connect CPU µs/event | Commit → last event in Kafka | Invalidator CPU µs/event | Invalidator keys/s |', '| --- | --- | --- | --- | --- |');
  for (const format of ['nested', 'lean'] as const) {
    const m = ef.median[format];
    md.push(`| ${format} | ${d3(m.connectCpuMicrosPerEvent, 2)} | ${d3(m.commitToPublishedSeconds)} s | ${d3(m.invalidatorCpuMicrosPerEvent, 2)} | ${n(m.invalidatorKeysPerSecond)} |`);
  }
  md.push(
    '',
    `Lean ÷ nested (median of per-round ratios): invalidator CPU per event ${x(ef.ratios.invalidatorCpuPerEvent)}, drain rate ${x(ef.ratios.invalidatorKeysPerSecond)}; Connect CPU per event ${x(ef.ratios.connectCpuPerEvent)}, commit → last event in Kafka ${x(ef.ratios.commitToPublished)}.`,
    '',
  );
  md.push('| Round | Format | Connect CPU µs/event | Commit → last event in Kafka | Invalidator CPU µs/event | Invalidator keys/s |', '| --- | --- | --- | --- | --- | --- |');
  for (const p of ef.publish) {
    const d = ef.drains.find((r) => r.round === p.round && r.format === p.format);
    md.push(`| ${p.round} | ${p.format} | ${p.connectCpuMicrosPerEvent} | ${p.commitToPublishedSeconds} s | ${d?.invalidatorCpuMicrosPerEvent ?? '–'} | ${d ? n(d.invalidatorKeysPerSecond) : '–'} |`);
  }
  md.push('');
}
