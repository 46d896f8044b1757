import { hostname } from 'node:os';
import { auditSamplesKey, connectionForKey, createCacheRedis, decodeAuditSample, SilentConnectionResets, type AuditSample, type Logger } from '@settings/shared';

export interface SampleSource {
  /** The next samples, at most `max` (blocks up to about a second); malformed entries are counted in `malformed`. */
  read(max?: number): Promise<{ samples: AuditSample[]; malformed: number }>;
  close(): Promise<void>;
}

type StreamReply = Array<[string, Array<[string, string[]]>]> | null;

/**
 * Reads the audit stream as one consumer of a consumer group shared by every invalidator
 * replica (the group is the Kafka group id), so each sample is audited by one replica. NOACK:
 * nothing is left pending in Redis; a replica that dies loses the samples it held (at most one
 * SLO's worth), which costs a few measurements, never correctness. A dedicated connection,
 * because XREADGROUP BLOCK would hold up the evictions' commands on a shared one.
 */
export function redisSampleStream(url: string, group: string, log: Logger, opts: { blockMs?: number; count?: number; clusterNodes?: readonly string[]; onSilentReset?: () => void } = {}): SampleSource {
  const blockMs = opts.blockMs ?? 1000;
  const redis = createCacheRedis(url, { commandTimeoutMs: blockMs + 2000, autoPipelining: false, lazyConnect: true, clusterNodes: opts.clusterNodes });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'audit stream connection error'));
  // Gone silent (nothing closed), every read timed out and the auditor stopped auditing for
  // hours, with a debug line per second: replaced after two reads timed out, 3 s apart or more.
  // Only the connection the reads went over (on a cluster, the stream's master's).
  const silent = new SilentConnectionResets(log, { afterTimeouts: 2, afterMs: 3000, onReset: opts.onSilentReset });
  const consumer = `${hostname()}-${process.pid}`;
  const key = auditSamplesKey();
  const observe = (err?: unknown): void => {
    const connection = connectionForKey(redis, key);
    if (connection) silent.observe(connection, err);
  };
  let groupReady = false;

  async function ensureGroup(): Promise<void> {
    if (redis.status === 'wait') await redis.connect();
    try {
      // `$`: a new group audits what is served from now on, not the stream's history.
      await redis.call('XGROUP', 'CREATE', key, group, '$', 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
    groupReady = true;
  }

  return {
    async read(max?: number) {
      const count = Math.max(1, Math.min(opts.count ?? 500, max ?? Number.POSITIVE_INFINITY));
      if (!groupReady) await ensureGroup();
      let reply: StreamReply;
      try {
        reply = (await redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), 'BLOCK', String(blockMs), 'NOACK', 'STREAMS', key, '>')) as StreamReply;
        observe();
      } catch (err) {
        observe(err);
        // A Redis that restarted empty lost the group: create it again on the next read.
        if (/NOGROUP/.test((err as Error).message)) groupReady = false;
        throw err;
      }
      const samples: AuditSample[] = [];
      let malformed = 0;
      for (const [, entries] of reply ?? []) {
        for (const [, fields] of entries) {
          const s = decodeAuditSample(fields);
          if (s) samples.push(s);
          else malformed += 1;
        }
      }
      return { samples, malformed };
    },
    async close() {
      if (redis.status === 'ready') await redis.call('XGROUP', 'DELCONSUMER', key, group, consumer).catch(() => undefined);
      redis.disconnect();
    },
  };
}
