/**
 * A write the harness saw acknowledged: its version, when it was acknowledged (ms), and what it
 * was (i: the initial insert, s: a save, b: the bulk update).
 */
export interface AckedWrite {
  v: number;
  ack: number;
  kind: 'i' | 's' | 'b';
}

/**
 * Every acknowledged write per account (by index), kept across the variants of one replay:
 * they all run on the same rows. A read is stale when it returned a version older than a write
 * acknowledged before the read started.
 */
export class WriteLedger {
  private readonly writes = new Map<number, AckedWrite[]>();

  record(account: number, v: number, ack: number, kind: AckedWrite['kind']): void {
    let list = this.writes.get(account);
    if (!list) this.writes.set(account, (list = []));
    list.push({ v, ack, kind });
  }

  /** Of the writes newer than `version` acknowledged by `at`, the first acknowledged; undefined if none. */
  firstNewer(account: number, version: number, at: number): AckedWrite | undefined {
    let first: AckedWrite | undefined;
    for (const w of this.writes.get(account) ?? []) {
      if (w.ack <= at && w.v > version && (!first || w.ack < first.ack)) first = w;
    }
    return first;
  }
}
