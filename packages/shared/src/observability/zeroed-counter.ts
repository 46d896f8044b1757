import type { Counter } from 'prom-client';

/**
 * A labelled counter with every known series exported at 0 from the start. prom-client creates a
 * series at its first inc(), already at 1 or more, and rate() and increase() take a series' first
 * sample as the baseline: an alert on such a counter missed the first burst after a pod started
 * (its first dead letters, its first connections cut in a failover), which is the usual incident.
 */
export function zeroedCounter<L extends string>(counter: Counter<L>, label: L, values: readonly string[]): Counter<L> {
  for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
  return counter;
}
