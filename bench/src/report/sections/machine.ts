import type { BenchResults } from '../../results';

/** The machine the run measured on, and every component's version. */
export function machineSection(r: Pick<BenchResults, 'machine' | 'versions'>, md: string[]): void {
  md.push('## Machine and versions', '');
  md.push('| | |', '| --- | --- |');
  md.push(`| CPU | ${r.machine.nproc} × ${r.machine.cpuModel} (shared, noisy) |`);
  md.push(`| Memory | ${r.machine.memoryGiB} GiB |`);
  md.push(`| OS | ${r.machine.os}, kernel ${r.machine.kernel} |`);
  md.push(`| Load average at start | ${r.machine.loadAverageAtStart.join(' ')} |`);
  md.push(`| Node.js | ${r.versions.node} (grpc-js ${r.versions.grpcJs}) |`);
  md.push(`| PostgreSQL | ${r.versions.postgres} |`);
  md.push(`| Redis | ${r.versions.redis} |`);
  md.push(`| Kafka | ${r.versions.kafka} (KRaft, one broker) |`);
  md.push(`| Debezium | ${r.versions.debezium} (PostgreSQL connector, pgoutput) |`);
  md.push(`| h2load | nghttp2 ${r.versions.h2load} |`, '');
}
