import { status as GrpcStatus, type handleServerStreamingCall, type ServerWritableStream } from '@grpc/grpc-js';
import type { WatchSettingsRequest, WatchSettingsResponse } from '@settings/api';
import type { Logger } from '@settings/shared';
import { SettingsError } from '../../errors';
import type { SettingsMetrics } from '../../metrics';
import type { StreamLimits } from '../../watch/stream-limits';
import type { WatchHub } from '../../watch/watch-hub';
import { Watcher } from '../../watch/watcher';
import { flushBoundedSink } from '../../watch/flush-bounded-sink';
import { authorizeAccount, requireScope, type Authenticator } from '../auth';
import { UndecodableRequest } from '../request-decoding';
import { classify, toServiceError } from '../status-mapping';
import type { WatchTargetParser } from './watch-targets';

export interface WatchSettingsDeps {
  /** Undefined when the replica runs without Redis tracking (NEAR_CACHE_ENABLED=false): Watch is refused. */
  readonly hub: WatchHub | undefined;
  readonly limits: StreamLimits;
  readonly targets: WatchTargetParser;
  readonly authenticator: Authenticator;
  readonly metrics: SettingsMetrics;
  readonly log: Logger;
  /** How often an idle, caught-up stream gets a progress message (a bookmark). */
  readonly progressIntervalMs: number;
  /** Longest a resumed target waits for this replica to catch up with the caller's resume token (Watcher). */
  readonly resumeHoldMs: number;
  isShuttingDown(): boolean;
}

type Call = ServerWritableStream<WatchSettingsRequest, WatchSettingsResponse>;

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `WatchSettings`: the open streams of this replica. Each stream is authenticated, scoped and
 * authorized per resource when it opens, counted against the per-caller and per-replica limits,
 * and ends with UNAUTHENTICATED when its token expires and UNAVAILABLE (SHUTTING_DOWN, with
 * RetryInfo) when the replica stops, so callers resume elsewhere with their last resume tokens.
 */
export class WatchSettings {
  private readonly open = new Set<(err: SettingsError) => void>();

  constructor(private readonly deps: WatchSettingsDeps) {}

  get openStreams(): number {
    return this.open.size;
  }

  readonly handler: handleServerStreamingCall<WatchSettingsRequest, WatchSettingsResponse> = (call) => {
    void this.serve(call);
  };

  /** Ends every open stream with UNAVAILABLE (graceful shutdown: reconnect to another replica). */
  endAll(): void {
    for (const end of [...this.open]) end(new SettingsError('SHUTTING_DOWN', 'server is shutting down; resume the watch on another replica'));
  }

  private async serve(call: Call): Promise<void> {
    const { deps } = this;
    let release: (() => void) | undefined;
    let watcher: Watcher<WatchSettingsResponse> | undefined;
    let progressTimer: NodeJS.Timeout | undefined;
    let expiryTimer: NodeJS.Timeout | undefined;
    let ended = false;
    let over = false;
    /** Nothing more is watched or written for this stream. */
    const stop = (): void => {
      if (ended) return;
      ended = true;
      clearTimeout(progressTimer);
      clearTimeout(expiryTimer);
      watcher?.close();
      this.open.delete(end);
      deps.metrics.watchStreams.set(this.open.size);
    };
    // The slot is given back only when the call is over ('cancelled' also follows a status that
    // was sent), not when the stream is ended: grpc-js sends the status after the messages the
    // caller has not read, so a caller that does not read keeps an ended stream, and what it
    // buffers, open; with the slot given back at `end` it could hold any number of them.
    const finish = (): void => {
      stop();
      if (over) return;
      over = true;
      release?.();
    };
    const end = (err: SettingsError): void => {
      if (ended) return;
      stop();
      const serviceError = toServiceError(err);
      deps.metrics.grpcRequests.inc({ method: 'WatchSettings', code: GrpcStatus[serviceError.code ?? GrpcStatus.UNKNOWN] ?? 'UNKNOWN' });
      if (err.code === 'INTERNAL') deps.log.error({ err: err.cause ?? err }, 'watch failed');
      // grpc-js sends a server stream's 'error' as its status, then ends it.
      call.emit('error', Object.assign(new Error(serviceError.details ?? err.message), serviceError));
    };
    call.on('cancelled', finish);
    call.on('close', finish);
    try {
      if (deps.isShuttingDown()) throw new SettingsError('SHUTTING_DOWN', 'server is shutting down; watch on another replica');
      if (!deps.hub) throw new SettingsError('WATCH_UNAVAILABLE', 'this replica runs without Redis invalidation tracking (NEAR_CACHE_ENABLED=false), which Watch needs; watch on another replica');
      const hub = deps.hub;
      const principal = await deps.authenticator.authenticate(call.metadata);
      requireScope(principal, 'read');
      if (call.request instanceof UndecodableRequest) throw call.request.error;
      const targets = deps.targets.parse(call.request.targets);
      for (const t of targets) authorizeAccount(principal, t.account);
      const opened = deps.limits.tryOpen(principal.subject);
      // The caller over its own cap is told to slow down (RESOURCE_EXHAUSTED); a full replica is
      // overloaded, not the caller's doing (UNAVAILABLE: the retry may reach another replica).
      if (opened === 'per_caller') throw new SettingsError('WATCH_LIMIT_EXCEEDED', `too many open watch streams (${deps.limits.maxPerCaller} per caller); close some or retry later`);
      if (typeof opened === 'string') throw new SettingsError('WATCH_REPLICA_FULL', `this replica has ${deps.limits.maxPerReplica} open watch streams, its maximum; retry (another replica may have room)`);
      // Cancelled while authenticating: finish has run already and will not again.
      if (over) return opened();
      // Shutdown began while authenticating: endAll() did not see this stream (not open yet).
      if (deps.isShuttingDown()) {
        opened();
        throw new SettingsError('SHUTTING_DOWN', 'server is shutting down; watch on another replica');
      }
      release = opened;
      this.open.add(end);
      deps.metrics.watchStreams.set(this.open.size);
      if (principal.expiresAt !== undefined) {
        const expiresAt = principal.expiresAt;
        const expired = new SettingsError('UNAUTHENTICATED', 'bearer token expired; reconnect with a fresh token and your resume tokens');
        // Node fires a timer of more than 2^31-1 ms (24.8 days) after 1 ms: re-armed in steps.
        const untilExpiry = (): void => {
          const left = expiresAt - Date.now();
          if (left <= 0) end(expired);
          else expiryTimer = setTimeout(untilExpiry, Math.min(left, MAX_TIMER_MS));
        };
        // Never ended from here, synchronously: a token already expired (accepted within the
        // clock tolerance) ends the stream once its watcher exists, so cleanup closes it.
        expiryTimer = setTimeout(untilExpiry, Math.min(Math.max(0, expiresAt - Date.now()), MAX_TIMER_MS));
      }
      watcher = new Watcher(hub, flushBoundedSink(call), {
        progressMessage: (versions) => ({
          event: { $case: 'progress', value: { versions: versions.map((v) => ({ name: v.name, resumeToken: v.version.toString() })), asOf: new Date() } },
        }),
        onPush: (n, changedAt) => {
          deps.metrics.watchPushes.inc(n);
          if (changedAt !== undefined) deps.metrics.watchPushLag.observe((Date.now() - changedAt) / 1000);
        },
        onFatal: (err) => end(classify(err)),
        resumeHoldMs: deps.resumeHoldMs,
        onResumeHold: (outcome) => deps.metrics.watchResumeHolds.inc({ outcome }),
      });
      watcher.start(targets.map((t) => t.build()));
      const w = watcher;
      const tick = (): void => {
        if (ended) return;
        w.progress();
        progressTimer = setTimeout(tick, deps.progressIntervalMs);
      };
      tick();
    } catch (err) {
      end(classify(err));
    }
  }
}
