import { performance } from 'node:perf_hooks';
import { status as GrpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { WatchSettingsRequest, type SettingsServiceClient, type WatchSettingsResponse } from '@settings/api';
import { sleep } from '../../context';
import { client } from '../../grpc-util';

/** One Watch stream to open: its target names and, when resuming, the last resume token of each. */
export interface StreamSpec {
  readonly names: readonly string[];
  readonly resumeTokens?: readonly string[];
}

/** A change message as a watcher saw it; `atMs` is performance.now() in this process. */
export type OnChange = (stream: number, name: string, version: bigint, atMs: number) => void;

interface StreamState {
  readonly spec: StreamSpec;
  readonly call: ClientReadableStream<WatchSettingsResponse>;
  /** Latest resume token per name (from a change or a progress message). */
  readonly tokens: Map<string, string>;
  /** When every target had a state or a bookmark (performance.now()). */
  readyAt?: number;
  /** gRPC status the stream ended with, if it ended. */
  endCode?: number;
}

/**
 * Many Watch streams from the harness, as many backend callers would hold them. One HTTP/2
 * connection carries at most GRPC_MAX_CONCURRENT_STREAMS (256) streams, so the streams are spread
 * over `streamsPerChannel`-sized groups, each on its own connection (grpc-util's `client` uses a
 * local subchannel pool, so every client object dials its own).
 */
export class WatchFleet {
  private readonly channels: SettingsServiceClient[] = [];
  private readonly streams: StreamState[] = [];
  private closing = false;
  private readyCount = 0;

  constructor(
    private readonly port: number,
    private readonly streamsPerChannel: number,
    private readonly onChange?: OnChange,
  ) {}

  get size(): number {
    return this.streams.length;
  }

  get ready(): number {
    return this.readyCount;
  }

  open(specs: readonly StreamSpec[]): void {
    for (const spec of specs) {
      const index = this.streams.length;
      const channelIndex = Math.floor(index / this.streamsPerChannel);
      const channel = (this.channels[channelIndex] ??= client(this.port));
      const request = WatchSettingsRequest.fromPartial({ targets: spec.names.map((name, j) => ({ name, resumeToken: spec.resumeTokens?.[j] ?? '' })) });
      const s: StreamState = { spec, call: channel.watchSettings(request), tokens: new Map() };
      this.streams.push(s);
      s.call.on('data', (m: WatchSettingsResponse) => this.receive(index, s, m));
      s.call.on('error', (err: ServiceError) => {
        s.endCode ??= err.code;
      });
    }
  }

  /**
   * Waits until every stream is ready or ended; returns when the last stream became ready
   * (performance.now()) and how many ended without being ready.
   */
  async waitReady(timeoutMs: number): Promise<{ lastReadyAt: number; failed: number; timedOut: number }> {
    const deadline = Date.now() + timeoutMs;
    const unsettled = (): StreamState[] => this.streams.filter((s) => s.readyAt === undefined && s.endCode === undefined);
    while (unsettled().length > 0 && Date.now() < deadline) await sleep(20);
    let lastReadyAt = Number.NaN;
    for (const s of this.streams) if (s.readyAt !== undefined && !(s.readyAt <= lastReadyAt)) lastReadyAt = s.readyAt;
    const failed = this.streams.filter((s) => s.readyAt === undefined && s.endCode !== undefined).length;
    return { lastReadyAt, failed, timedOut: unsettled().length };
  }

  /** Streams that ended before they were ready, by gRPC status name. */
  failures(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.streams) {
      if (s.readyAt !== undefined || s.endCode === undefined) continue;
      const name = GrpcStatus[s.endCode] ?? String(s.endCode);
      out[name] = (out[name] ?? 0) + 1;
    }
    return out;
  }

  /** Streams that ended so far, by gRPC status name (a server shutting down ends them UNAVAILABLE). */
  endings(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.streams) {
      if (s.endCode === undefined) continue;
      const name = GrpcStatus[s.endCode] ?? String(s.endCode);
      out[name] = (out[name] ?? 0) + 1;
    }
    return out;
  }

  /** What a reconnecting caller sends: every stream's names with its last resume tokens. */
  resumeSpecs(): StreamSpec[] {
    return this.streams.map((s) => ({ names: s.spec.names, resumeTokens: s.spec.names.map((n) => s.tokens.get(n) ?? '') }));
  }

  /** Cancels every stream and closes every connection. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    for (const s of this.streams) s.call.cancel();
    for (const c of this.channels) c.close();
  }

  private receive(index: number, s: StreamState, m: WatchSettingsResponse): void {
    if (this.closing) return;
    const at = performance.now();
    const ev = m.event;
    if (ev?.$case === 'change') {
      s.tokens.set(ev.value.name, ev.value.resumeToken);
      this.onChange?.(index, ev.value.name, BigInt(ev.value.resumeToken || '0'), at);
    } else if (ev?.$case === 'progress') {
      for (const v of ev.value.versions) s.tokens.set(v.name, v.resumeToken);
    }
    if (s.readyAt === undefined && s.tokens.size >= s.spec.names.length) {
      s.readyAt = at;
      this.readyCount++;
    }
  }
}
