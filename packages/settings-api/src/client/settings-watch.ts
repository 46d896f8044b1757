import { Metadata, status as GrpcStatus, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { AccountSettings } from '../gen/settings/v1/account_settings';
import type { DoctorSettings } from '../gen/settings/v1/doctor_settings';
import type { OnPatientSettings } from '../gen/settings/v1/onpatient_settings';
import type { StaffPermission } from '../gen/settings/v1/staff_permission';
import type { SettingsChange, WatchSettingsResponse } from '../gen/settings/v1/watch';
import { authorizationHeader, type TokenSource } from './bearer-token';
import { SettingsApiError } from './settings-api-error';
import type { SettingsClient } from './settings-client';

/** The current state of one watched name, as the last message left it. */
export type WatchedValue =
  | { readonly kind: 'accountSettings'; readonly value: AccountSettings }
  | { readonly kind: 'doctorSettings'; readonly value: DoctorSettings }
  | { readonly kind: 'onpatientSettings'; readonly value: OnPatientSettings }
  /** Every grant of the account, by grant name. */
  | { readonly kind: 'staffPermissions'; readonly value: ReadonlyMap<string, StaffPermission> }
  | { readonly kind: 'missing' };

export interface SettingsWatchOptions {
  /** Names to keep: `accounts/{a}/settings`, `accounts/{a}/doctors/{d}/settings`, `accounts/{a}/onpatientSettings`, `accounts/{a}` (staff permissions). */
  readonly names: readonly string[];
  /** Bearer token or a function returning it (called on every (re)connect, so it may refresh). */
  readonly token?: TokenSource;
  /**
   * Reconnect when nothing (not even a progress bookmark) arrived for this long: the replica may
   * have stopped hearing changes. Default 30 s (three of the server's default bookmark intervals).
   */
  readonly idleTimeoutMs?: number;
  /** Reconnect backoff (full jitter, doubled per failure, reset by a bookmark: the stream is current). Default 100 ms .. 10 s. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** For tests: the source of jitter. */
  readonly random?: () => number;
}

/** Failures after which reconnecting cannot help: the request itself is wrong or not allowed. */
const FINAL = new Set([GrpcStatus.INVALID_ARGUMENT, GrpcStatus.PERMISSION_DENIED, GrpcStatus.NOT_FOUND, GrpcStatus.FAILED_PRECONDITION, GrpcStatus.UNIMPLEMENTED]);

/**
 * A local, read-only copy of some settings kept coherent by `WatchSettings`: the current state
 * first, then every change pushed by the service; on any interruption it reconnects with jittered
 * backoff and resumes from the last version of each name, so it never misses a change and never
 * goes back to an older state. `get()` is a map lookup: no network call, no TTL.
 */
export class SettingsWatch {
  private readonly values = new Map<string, WatchedValue>();
  private readonly resumeTokens = new Map<string, string>();
  /**
   * The highest version seen per name; never lowered. The resume token is not it: a "missing"
   * change and a bookmark of a missing resource say 0, and a resume from 0 told the next
   * replica nothing to hold back, so one behind the caller had its older state applied (an
   * existing resource went v6 → missing → v5; a revoked staff grant came back).
   */
  private readonly highest = new Map<string, bigint>();
  /**
   * Names whose present state the copy holds, each with the stream that sent it: a `missing`
   * from that same stream is a deletion that replica saw after the state (a topic believes an
   * absence only from a read no change overlapped), not a replica that has not heard of the
   * resource yet (non-guarantee 26 (b)), which can only send `missing` first.
   */
  private readonly heldFrom = new Map<string, object>();
  /**
   * Names seen deleted (see heldFrom), with the highest version seen before: every version up to
   * it is gone (a re-creation draws a higher one from the same sequence), so a state at or below
   * it is never applied, and the stream resumes from it, not from the deletion's 0. Resumed from
   * 0, a replica that had not heard of the deletion sent the deleted state, and the copy took it.
   */
  private readonly deletedAt = new Map<string, bigint>();
  private readonly changeListeners = new Set<(name: string, value: WatchedValue) => void>();
  private readonly errorListeners = new Set<(error: SettingsApiError) => void>();
  private stream: ClientReadableStream<WatchSettingsResponse> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  private readyWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  /** Why the watch stopped for good (a final error, or close()); ready() rejects with it. */
  private stoppedBy: Error | undefined;
  /** Streams opened so far (reconnects included). */
  connects = 0;

  constructor(
    private readonly client: Pick<SettingsClient, 'grpc'>,
    private readonly options: SettingsWatchOptions,
  ) {
    void this.connect();
  }

  /** The current value of `name`; undefined until its first state arrived. */
  get(name: string): WatchedValue | undefined {
    return this.values.get(name);
  }

  /** Resolves once every name has a state; rejects if the watch stops for good (or is closed) first. */
  ready(): Promise<void> {
    if (this.isReady()) return Promise.resolve();
    if (this.stoppedBy) return Promise.reject(this.stoppedBy);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Called with each name whose value changed (after the copy was updated). Returns an unsubscribe. */
  onChange(fn: (name: string, value: WatchedValue) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Called when the watch stops for good (a bad name, no permission); the copy keeps its last values. */
  onError(fn: (error: SettingsApiError) => void): () => void {
    this.errorListeners.add(fn);
    return () => this.errorListeners.delete(fn);
  }

  close(): void {
    this.stop(new Error('SettingsWatch closed'));
    clearTimeout(this.idleTimer);
    clearTimeout(this.retryTimer);
    this.stream?.cancel();
  }

  /** Stops for good: no more reconnects, and whoever waits for ready() is told why. */
  private stop(reason: Error): void {
    this.closed = true;
    this.stoppedBy ??= reason;
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(this.stoppedBy);
  }

  /**
   * Whether a message at `token` for `name` would take the copy back: a present state (or a
   * bookmark) below the highest version seen. Versions of every resource come from one sequence,
   * so a lower one is older; a replica that stays behind may send one (the service's README,
   * non-guarantee 26). "Missing" carries no version (a deletion is not versioned) and is applied;
   * once a deletion was seen (deletedAt), a state at the version deleted is older too.
   */
  private older(name: string, token: string): boolean {
    const seen = this.highest.get(name);
    if (seen === undefined || !/^\d+$/.test(token)) return false;
    const deleted = this.deletedAt.get(name);
    return BigInt(token) < seen || (deleted !== undefined && BigInt(token) <= deleted);
  }

  private noteVersion(name: string, token: string): void {
    if (!/^\d+$/.test(token)) return;
    const v = BigInt(token);
    const seen = this.highest.get(name);
    if (seen === undefined || v > seen) this.highest.set(name, v);
  }

  private isReady(): boolean {
    return this.options.names.every((n) => this.values.has(n));
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const metadata = new Metadata();
    try {
      if (this.options.token !== undefined) metadata.set('authorization', await authorizationHeader(this.options.token));
    } catch {
      this.scheduleReconnect(undefined);
      return;
    }
    if (this.closed) return;
    this.connects += 1;
    const targets = this.options.names.map((name) => ({ name, resumeToken: this.resumeTokens.get(name) ?? '' }));
    const stream = this.client.grpc.watchSettings({ targets }, metadata);
    this.stream = stream;
    this.armIdle();
    stream.on('data', (m: WatchSettingsResponse) => this.onMessage(m, stream));
    stream.on('error', (err: ServiceError) => {
      if (this.stream !== stream) return;
      this.ended(new SettingsApiError('/settings.v1.SettingsService/WatchSettings', err));
    });
    stream.on('end', () => {
      // A stream the server ended without an error is still over: resume.
      if (this.stream === stream) this.ended(undefined);
    });
  }

  private onMessage(m: WatchSettingsResponse, stream: object): void {
    this.armIdle();
    if (m.event?.$case === 'progress') {
      // A bookmark, not any message, says the stream works: one that sends its first states and
      // then fails (a server bug, a token that expires as it is accepted) reconnected after the
      // first back-off every time, re-reading every target, for as long as it lasted.
      this.failures = 0;
      for (const v of m.event.value.versions) {
        // A bookmark at 0 says the resource does not exist: it follows the "missing" the copy
        // applied (a deletion), and is then taken as the resume token. Otherwise it comes from a
        // replica behind the copy (a staff list it has not heard of is an empty list at 0), and
        // resuming from 0 would tell the next replica nothing to hold back: one at an older list
        // than the copy's then sent deltas from that list, so a grant the copy still held and
        // that list never had stayed in the copy for good once revoked.
        // A name seen deleted keeps resuming from the version before the deletion (deletedAt).
        const taken = v.resumeToken === '0' ? this.values.get(v.name)?.kind === 'missing' && !this.deletedAt.has(v.name) : !this.older(v.name, v.resumeToken);
        if (taken) this.resumeTokens.set(v.name, v.resumeToken);
        this.noteVersion(v.name, v.resumeToken);
      }
      return;
    }
    if (m.event?.$case !== 'change') return;
    const c = m.event.value;
    if (!c.missing && this.older(c.name, c.resumeToken)) return;
    const value = this.apply(c);
    if (value.kind === 'missing') {
      const seen = this.highest.get(c.name);
      if (this.heldFrom.get(c.name) === stream && seen !== undefined) this.deletedAt.set(c.name, seen);
      this.heldFrom.delete(c.name);
    } else {
      this.heldFrom.set(c.name, stream);
      this.deletedAt.delete(c.name);
    }
    this.values.set(c.name, value);
    // Seen deleted: resumed from the last version, the next replica sends nothing while it still
    // has that version, and `missing` once it has heard of the deletion.
    const deleted = this.deletedAt.get(c.name);
    this.resumeTokens.set(c.name, deleted !== undefined ? deleted.toString() : c.resumeToken);
    this.noteVersion(c.name, c.resumeToken);
    for (const fn of this.changeListeners) fn(c.name, value);
    if (this.isReady()) {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) w.resolve();
    }
  }

  private apply(c: SettingsChange): WatchedValue {
    if (c.missing || !c.value) return { kind: 'missing' };
    if (c.value.$case !== 'staffPermissions') return { kind: c.value.$case, value: c.value.value } as WatchedValue;
    const previous = this.values.get(c.name);
    const grants = new Map(!c.fullState && previous?.kind === 'staffPermissions' ? previous.value : []);
    for (const name of c.value.value.deleted) grants.delete(name);
    for (const g of c.value.value.upserted) grants.set(g.name, g);
    return { kind: 'staffPermissions', value: grants };
  }

  private ended(error: SettingsApiError | undefined): void {
    this.stream = undefined;
    clearTimeout(this.idleTimer);
    if (this.closed) return;
    // An expired token is worth a reconnect only if the source can give a fresh one.
    const final = error && (FINAL.has(error.code) || (error.code === GrpcStatus.UNAUTHENTICATED && typeof this.options.token !== 'function'));
    if (final) {
      this.stop(error);
      for (const fn of this.errorListeners) fn(error);
      return;
    }
    this.scheduleReconnect(error?.retryDelayMs);
  }

  private scheduleReconnect(serverDelayMs: number | undefined): void {
    const initial = this.options.backoff?.initialMs ?? 100;
    const max = this.options.backoff?.maxMs ?? 10_000;
    const ceiling = Math.min(max, initial * 2 ** this.failures);
    this.failures += 1;
    // Full jitter, and never sooner than the server asked (RetryInfo).
    const delay = Math.max(serverDelayMs ?? 0, Math.round((this.options.random ?? Math.random)() * ceiling));
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref?.();
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    const stream = this.stream;
    this.idleTimer = setTimeout(() => {
      // Silence for too long: this replica may have stopped hearing changes. Start over.
      if (this.stream !== stream || !stream) return;
      this.stream = undefined;
      stream.cancel();
      this.scheduleReconnect(undefined);
    }, this.options.idleTimeoutMs ?? 30_000);
    this.idleTimer.unref?.();
  }
}

/** Watches `options.names` through `client` (its channel and credentials) and keeps a local copy. */
export function watchSettings(client: Pick<SettingsClient, 'grpc'>, options: SettingsWatchOptions): SettingsWatch {
  return new SettingsWatch(client, options);
}
