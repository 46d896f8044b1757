import type { Producer } from 'kafkajs';
import type { Logger } from '@settings/shared';
import type { DeadLetterReason, InvalidatorMetrics } from '../metrics';

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  reason: string;
  /** Short label for the metric (bounded cardinality). */
  category: DeadLetterReason;
}

/** A dead letter as it is written to the dead-letter topic (a kafkajs `Message`). */
export interface OutgoingDeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** One produce request's worth of dead letters, in their order. */
export interface DeadLetterSend {
  letters: DeadLetter[];
  messages: OutgoingDeadLetter[];
}

/**
 * What a record adds to a Kafka record batch besides its key, value and header bytes, at most
 * (kafkajs 2.2.4, record v2: length, attributes, timestamp and offset deltas, key and value
 * lengths and the header count are varints, ≤ 36 bytes together; each header adds two varint
 * lengths, ≤ 10 bytes), and the batch's own header (61 bytes), rounded up.
 */
const RECORD_OVERHEAD_BYTES = 40;
const HEADER_OVERHEAD_BYTES = 10;
const BATCH_OVERHEAD_BYTES = 128;
/**
 * How long the DLQ partition's leader may wait for its in-sync replicas before it answers a send
 * (the produce request's timeout; Kafka's default is 30 s). A lagging replica set made each of the
 * producer's four tries wait that long while the batch held up every other partition this
 * replica reads from that broker; refused after 2 s instead, publishDeadLetters backs off.
 */
const DLQ_ACK_TIMEOUT_MS = 2000;
/** A reason names the offending value at times (`unknown op "…"`): bounded, like the rest of a letter. */
const MAX_REASON_CHARS = 1000;

const byteLength = (b: Buffer | null): number => (b === null ? 0 : b.length);

/** Upper bound of one message's bytes in an uncompressed record batch. */
export function encodedRecordBytes(m: OutgoingDeadLetter): number {
  let n = RECORD_OVERHEAD_BYTES + byteLength(m.key) + byteLength(m.value);
  for (const [name, v] of Object.entries(m.headers)) n += HEADER_OVERHEAD_BYTES + Buffer.byteLength(name) + Buffer.byteLength(v);
  return n;
}

/**
 * The dead letter as a record of at most `maxBytes`. One larger than that (a change event near
 * the change topic's own size limit) would be refused by the dead-letter topic on every attempt
 * and block its partition for good, so its value (and, should that not be enough, its key) is cut
 * to fit and `dlq.truncated.value.bytes` / `dlq.truncated.key.bytes` hold the original lengths.
 * The whole event stays in the change topic at `dlq.source.offset` for as long as it is retained.
 */
function deadLetterMessage(l: DeadLetter, at: string, maxBytes: number): OutgoingDeadLetter {
  const headers: Record<string, string> = {
    'dlq.reason': l.reason.length > MAX_REASON_CHARS ? `${l.reason.slice(0, MAX_REASON_CHARS)}…` : l.reason,
    'dlq.source.topic': l.topic,
    'dlq.source.partition': String(l.partition),
    'dlq.source.offset': l.offset,
    'dlq.at': at,
  };
  if (encodedRecordBytes({ key: l.key, value: l.value, headers }) <= maxBytes) return { key: l.key, value: l.value, headers };
  const valueMark = { 'dlq.truncated.value.bytes': String(byteLength(l.value)) };
  const keyMark = { 'dlq.truncated.key.bytes': String(byteLength(l.key)) };
  const room = Math.max(0, maxBytes - encodedRecordBytes({ key: null, value: null, headers: { ...headers, ...valueMark, ...keyMark } }));
  const key = l.key !== null && l.key.length > room ? l.key.subarray(0, room) : l.key;
  const value = l.value === null ? null : l.value.subarray(0, Math.max(0, room - byteLength(key)));
  return {
    key,
    value,
    headers: { ...headers, ...(byteLength(value) < byteLength(l.value) ? valueMark : {}), ...(byteLength(key) < byteLength(l.key) ? keyMark : {}) },
  };
}

/**
 * Sends events the invalidator cannot map to exact keys to the dead-letter topic with their
 * original bytes and the reason in headers, so they can be inspected and replayed
 * (docs/operations.md). The caller commits past the events only after every send of their
 * plan succeeded.
 *
 * A chunk's dead letters go in several produce requests of at most `maxBytesPerSend` (kafkajs
 * puts all the messages of one send for one partition into one record batch, and a batch above
 * the topic's `max.message.bytes` is refused with MESSAGE_TOO_LARGE, which no retry cures).
 */
export class DeadLetterPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly maxBytesPerSend: number,
    private readonly log: Logger,
    private readonly metrics: InvalidatorMetrics,
    /** Longest one send may take before it counts as failed (DLQ_SEND_TIMEOUT_MS). */
    private readonly sendTimeoutMs = 10_000,
  ) {}

  /** The letters as consecutive sends, in order, each at most `maxBytesPerSend` when encoded. */
  plan(letters: DeadLetter[]): DeadLetterSend[] {
    const at = new Date().toISOString();
    const maxRecordBytes = this.maxBytesPerSend - BATCH_OVERHEAD_BYTES;
    const sends: DeadLetterSend[] = [];
    let current: DeadLetterSend = { letters: [], messages: [] };
    let bytes = 0;
    for (const l of letters) {
      const message = deadLetterMessage(l, at, maxRecordBytes);
      const size = encodedRecordBytes(message);
      if (current.messages.length > 0 && bytes + size > maxRecordBytes) {
        sends.push(current);
        current = { letters: [], messages: [] };
        bytes = 0;
      }
      current.letters.push(l);
      current.messages.push(message);
      bytes += size;
    }
    if (current.messages.length > 0) sends.push(current);
    return sends;
  }

  /**
   * Publishes one send of a plan (all of its records are written, acks=all, or it throws), or
   * throws once `sendTimeoutMs` passed. The batch waiting for it holds up this replica's next
   * fetch from the broker its partition came from, which need not be the DLQ partition's leader:
   * a DLQ leader that never answers made one send wait out the client's request timeout (30 s)
   * on each of the producer's four tries.
   */
  async send(send: DeadLetterSend): Promise<void> {
    await settledWithin(this.producer.send({ topic: this.topic, acks: -1, timeout: DLQ_ACK_TIMEOUT_MS, messages: send.messages }), this.sendTimeoutMs);
    for (const l of send.letters) {
      this.metrics.deadLetters.inc({ reason: l.category });
      this.log.warn({ topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason, dlq: this.topic }, 'change event sent to dead-letter topic');
    }
  }
}

/** A dead-letter send that did not finish within DLQ_SEND_TIMEOUT_MS. */
export class DeadLetterSendTimeoutError extends Error {
  constructor(ms: number) {
    super(`dead-letter send did not finish within ${ms} ms (DLQ_SEND_TIMEOUT_MS)`);
    this.name = 'DeadLetterSendTimeoutError';
  }
}

/**
 * `work`'s outcome, or a DeadLetterSendTimeoutError once `ms` passed first. kafkajs cannot cancel
 * a request: the send goes on and its outcome is ignored (the race keeps its rejection handled),
 * so one that lands after its timeout is a dead letter published twice (non-guarantee 8).
 */
async function settledWithin<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadLetterSendTimeoutError(ms)), ms);
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
