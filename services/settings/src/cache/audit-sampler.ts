import { PAYLOAD_FORMATS, publishAuditSample, type AuditSample, type PayloadFormats, type CacheRedisClient, type KeySpace, type Logger } from '@settings/shared';
import type { SettingsMetrics } from '../metrics';

/**
 * Samples served cache hits for the invalidator's staleness auditor: 1 in `every` (random, so a
 * periodic workload cannot alias with it), appended to the capped audit stream. Fire and forget:
 * a read never waits for the XADD, and a failed one is only counted, never retried or thrown.
 */
export class AuditSampler {
  private readonly now: () => number;
  private readonly random: () => number;
  /** This release's formats: the auditor judges a sample's entry by the generation they give it. */
  private readonly payloadFormats: PayloadFormats;

  constructor(
    private readonly redis: CacheRedisClient,
    private readonly every: number,
    private readonly metrics: SettingsMetrics,
    private readonly log: Logger,
    opts: { now?: () => number; random?: () => number; publish?: (redis: CacheRedisClient, s: AuditSample) => Promise<void>; payloadFormats?: PayloadFormats } = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.payloadFormats = opts.payloadFormats ?? PAYLOAD_FORMATS;
    this.random = opts.random ?? Math.random;
    if (opts.publish) this.publish = opts.publish;
  }

  private publish: (redis: CacheRedisClient, s: AuditSample) => Promise<void> = publishAuditSample;

  /** Called for every served hit; returns at once. */
  offer(space: KeySpace, key: string, version: bigint): void {
    if (this.every <= 0 || (this.every > 1 && this.random() * this.every >= 1)) return;
    const sample: AuditSample = { key, space, version, servedAt: this.now(), payloadFormat: this.payloadFormats[space] };
    this.publish(this.redis, sample).then(
      () => this.metrics.auditSamples.inc({ result: 'published' }),
      (err: unknown) => {
        this.metrics.auditSamples.inc({ result: 'failed' });
        this.log.debug({ err: (err as Error).message, key }, 'audit sample dropped');
      },
    );
  }
}
