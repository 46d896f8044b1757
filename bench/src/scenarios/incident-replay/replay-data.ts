import type { Zipf } from '../../load';
import type { WriteLedger } from './write-ledger';

/** What every variant of one replay shares: the rows, the read distribution, the acknowledged writes. */
export interface ReplayData {
  ids: string[];
  /** Rows the bulk UPDATE does not touch (another prefix): saves to them measure the bulkheads. */
  freeIds: string[];
  indexOf: Map<string, number>;
  zipf: Zipf;
  /** Account id prefix of the replay's rows. */
  prefix: string;
  ledger: WriteLedger;
  /** Size of one cached value, noted from the first read of each kind of target. */
  payloadBytes: { legacy: number; service: number };
}
