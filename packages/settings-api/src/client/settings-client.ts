import { credentials as grpcCredentials, Metadata, status, type ChannelCredentials, type ClientUnaryCall, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { SettingsServiceClient, SettingsServiceService } from '../gen/settings/v1/settings_service';
import { authorizationHeader, type TokenSource } from './bearer-token';
import { RetryBudget } from './retry-budget';
import { isRetryable, retryDelayMs, type RetryOptions } from './retry-policy';
import { SettingsApiError } from './settings-api-error';

type Methods = typeof SettingsServiceService;
/** The unary RPCs; streaming ones (WatchSettings) are on `grpc`, the generated client. */
export type SettingsMethod = { [K in keyof Methods]: Methods[K]['requestStream'] extends false ? (Methods[K]['responseStream'] extends false ? K : never) : never }[keyof Methods];
export type RequestOf<K extends SettingsMethod> = Parameters<Methods[K]['requestSerialize']>[0];
export type ResponseOf<K extends SettingsMethod> = ReturnType<Methods[K]['responseDeserialize']>;

export interface CallOptions {
  /** Time for the whole call, retries included; sent to the server, which bounds its database work by it. */
  readonly deadlineMs?: number;
  /** Cancels the call (and any retry wait): the promise rejects with CANCELLED. */
  readonly signal?: AbortSignal;
  /** Override the client's retry options for this call ({ maxAttempts: 1 } = no retries). */
  readonly retry?: RetryOptions;
}

export interface SettingsClientOptions {
  /** `host:port`, e.g. `settings:50051` or `127.0.0.1:50051`. */
  readonly address: string;
  /** Bearer token or a function returning it; omit only for a server in AUTH_MODE=insecure-dev. */
  readonly token?: TokenSource;
  /** Default: TLS with the system's CAs. `credentials.createInsecure()` for the local stack. */
  readonly credentials?: ChannelCredentials;
  /** Default deadline of every call. Default 5000 ms. */
  readonly deadlineMs?: number;
  readonly retry?: RetryOptions;
  readonly channelOptions?: ChannelOptions;
}

/** One promise-returning method per unary RPC of settings.v1.SettingsService, same names as the generated client. */
export type SettingsMethods = { [K in SettingsMethod]: (request: RequestOf<K>, options?: CallOptions) => Promise<ResponseOf<K>> };

export interface SettingsClient extends SettingsMethods {
  /** The generated callback client underneath, for what this wrapper does not cover. */
  readonly grpc: SettingsServiceClient;
  /** Closes the channel. Calls waiting to retry or for their token reject at once with CANCELLED, as do later calls; calls already sent finish. */
  close(): void;
}

const DEFAULT_DEADLINE_MS = 5_000;

/**
 * Client keepalive (grpc-js leaves it off): a connection whose peer vanished without a FIN or RST
 * (a node lost, a NAT entry dropped) is found dead within ~30 s instead of when TCP gives up
 * (~15 min on Linux), during which every call on it ends in DEADLINE_EXCEEDED and a Watch
 * reconnects onto it. Pings also on an idle connection (the service has no ping-abuse policy; it
 * asks for ≥ 10 s between pings). `channelOptions` override these.
 */
export const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
};
/** Reads may be repeated after any UNAVAILABLE/ABORTED; writes only when the server sent RetryInfo (retry-policy.ts). */
const IDEMPOTENT = /^\/settings\.v1\.SettingsService\/(Get|BatchGet|List)/;

/**
 * The settings service client for backend teams: promises, a default deadline that the server
 * sees, retries of UNAVAILABLE/ABORTED honouring google.rpc.RetryInfo, the bearer token on every
 * call, and failures as SettingsApiError with ErrorInfo/BadRequest/RetryInfo decoded.
 */
export function createSettingsClient(options: SettingsClientOptions): SettingsClient {
  const grpc = new SettingsServiceClient(options.address, options.credentials ?? grpcCredentials.createSsl(), { ...DEFAULT_CHANNEL_OPTIONS, ...options.channelOptions });
  // Shared by the client's calls: close() ends their retry waits and token fetches at once
  // (grpc-js refuses new calls on a closed channel but knows nothing of ours), and the retry
  // budget limits retries across calls.
  const state: ClientState = { closing: new AbortController(), budget: new RetryBudget() };
  const methods: Partial<Record<SettingsMethod, unknown>> = {};
  for (const name of unaryMethods()) {
    methods[name] = (request: unknown, callOptions: CallOptions = {}) => call(grpc, name, request, options, state, callOptions);
  }
  const close = (): void => {
    state.closing.abort();
    grpc.close();
  };
  return { ...(methods as SettingsMethods), grpc, close };
}

interface ClientState {
  readonly closing: AbortController;
  readonly budget: RetryBudget;
}

function unaryMethods(): SettingsMethod[] {
  const all = Object.entries(SettingsServiceService) as Array<[string, { requestStream: boolean; responseStream: boolean }]>;
  return all.filter(([, d]) => !d.requestStream && !d.responseStream).map(([name]) => name as SettingsMethod);
}

/**
 * An attempt needs at least this much time left after a retry wait (and at least as long as the
 * last attempt took): a retry sent with a few ms left may be applied by the server while its
 * answer arrives past the deadline, turning a clean "not applied, retry later" error into
 * DEADLINE_EXCEEDED, which says nothing of whether the write happened.
 */
const MIN_ATTEMPT_MS = 50;

async function call(grpc: SettingsServiceClient, name: SettingsMethod, request: unknown, client: SettingsClientOptions, state: ClientState, options: CallOptions): Promise<unknown> {
  const definition = SettingsServiceService[name];
  const idempotent = IDEMPOTENT.test(definition.path);
  const deadline = Date.now() + (options.deadlineMs ?? client.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const retry = { ...client.retry, ...options.retry };
  const stop: Stop = { path: definition.path, signal: options.signal, closing: state.closing.signal };
  for (let attempt = 1; ; attempt++) {
    // A cancelled call is never started: grpc-js sends a call cancelled before its metadata is
    // out anyway (its resolving call has no child yet), and a save sent after the caller was
    // told CANCELLED would be applied behind its back.
    throwIfStopped(stop);
    const started = Date.now();
    const metadata = client.token === undefined ? new Metadata() : await bearerMetadata(client.token, deadline, stop);
    throwIfStopped(stop);
    let response: unknown;
    try {
      response = await attemptCall(grpc, definition, request, metadata, deadline, stop);
    } catch (err) {
      if (!(err instanceof SettingsApiError)) throw err;
      if (isRetryable(err, idempotent)) state.budget.recordRetryableFailure();
      const delay = retryDelayMs(err, attempt, idempotent, retry);
      if (delay === undefined || !state.budget.allowsRetry() || options.signal?.aborted || state.closing.signal.aborted) throw err;
      // The wait must end with time left for an attempt; otherwise this error is the honest answer.
      const floor = Math.max(MIN_ATTEMPT_MS, Date.now() - started);
      if (deadline - (Date.now() + delay) < floor) throw err;
      await sleep(delay, stop);
      continue;
    }
    state.budget.recordSuccess();
    return response;
  }
}

/** What ends a call early: the caller's signal (CANCELLED) or the client's close() (also CANCELLED, see closedError). */
interface Stop {
  readonly path: string;
  readonly signal: AbortSignal | undefined;
  readonly closing: AbortSignal;
}

/** Runs `listener` when the caller aborts or the client is closed; returns the unsubscribe. */
function onStop(stop: Stop, listener: () => void): () => void {
  stop.signal?.addEventListener('abort', listener, { once: true });
  stop.closing.addEventListener('abort', listener, { once: true });
  return () => {
    stop.signal?.removeEventListener('abort', listener);
    stop.closing.removeEventListener('abort', listener);
  };
}

function stoppedError(stop: Stop): SettingsApiError | undefined {
  if (stop.signal?.aborted) return cancelledError(stop.path);
  if (stop.closing.aborted) return closedError(stop.path);
  return undefined;
}

function throwIfStopped(stop: Stop): void {
  const err = stoppedError(stop);
  if (err) throw err;
}

/**
 * The call's metadata with its authorization header, fetched within the call's bounds. A token
 * function that throws or rejects (or returns a value a header cannot carry) fails the call with
 * UNAUTHENTICATED, what gRPC's status code guide gives for "credentials failed to get metadata";
 * the function's error is the SettingsApiError's `cause.cause`. Not UNAVAILABLE: nothing was
 * sent, and the retries that code gets would hide a broken token source behind the server's name.
 */
async function bearerMetadata(token: TokenSource, deadline: number, stop: Stop): Promise<Metadata> {
  try {
    const metadata = new Metadata();
    // Metadata.set throws on characters a header cannot carry (a newline in the token).
    metadata.set('authorization', await withinCall(authorizationHeader(token), deadline, stop));
    return metadata;
  } catch (err) {
    if (err instanceof SettingsApiError) throw err;
    throw localError(stop.path, status.UNAUTHENTICATED, `getting the bearer token failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

type AnyMethod = Methods[SettingsMethod];

function attemptCall(grpc: SettingsServiceClient, definition: AnyMethod, request: unknown, metadata: Metadata, deadline: number, stop: Stop): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const serialize = definition.requestSerialize as (value: unknown) => Buffer;
    const deserialize = definition.responseDeserialize as (bytes: Buffer) => unknown;
    let pending: ClientUnaryCall;
    const cancel = (): void => pending.cancel();
    try {
      pending = grpc.makeUnaryRequest(definition.path, serialize, deserialize, request, metadata, { deadline }, (err: ServiceError | null, response?: unknown) => {
        stop.signal?.removeEventListener('abort', cancel);
        if (err) reject(new SettingsApiError(definition.path, err));
        else resolve(response);
      });
    } catch (err) {
      // grpc-js throws synchronously, e.g. 'Channel has been shut down' for a client closed
      // meanwhile; nothing was sent. Still a SettingsApiError, as the README promises.
      reject(stop.closing.aborted ? closedError(definition.path, err) : localError(definition.path, status.INTERNAL, `the call could not be started: ${err instanceof Error ? err.message : String(err)}`, err));
      return;
    }
    // Only the caller's signal cancels a call in flight. close() lets it finish, as grpc-js does:
    // a save already sent may be applied, and CANCELLED would hide that.
    stop.signal?.addEventListener('abort', cancel, { once: true });
  });
}

function localError(path: string, code: status, details: string, cause?: unknown): SettingsApiError {
  return new SettingsApiError(path, Object.assign(new Error(details, { cause }), { code, details, metadata: new Metadata() }) as ServiceError);
}

const cancelledError = (path: string): SettingsApiError => localError(path, status.CANCELLED, 'cancelled by the caller');

/**
 * A call ended by close() (during a retry wait or a token fetch, or started after it): CANCELLED,
 * the code for a call its own side gave up on. Not UNAVAILABLE: that code says "try again", and
 * this client never will succeed again.
 */
const closedError = (path: string, cause?: unknown): SettingsApiError => localError(path, status.CANCELLED, 'the client was closed', cause);

/** setTimeout's longest delay; Node runs a longer one after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `work` (fetching the bearer token) bounded like the call it belongs to: a token source that
 * hangs fails the call at its deadline (DEADLINE_EXCEEDED), when the caller aborts or the client
 * is closed (CANCELLED), instead of holding the caller past all three until the source answers.
 */
function withinCall<T>(work: Promise<T>, deadline: number, stop: Stop): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const remaining = deadline - Date.now();
    // No timer without a finite deadline (deadlineMs Infinity); a deadline beyond setTimeout's
    // range is checked at its limit (~24.8 days) instead of after 1 ms.
    const timer = Number.isFinite(remaining)
      ? setTimeout(() => settle(() => reject(localError(stop.path, status.DEADLINE_EXCEEDED, 'deadline exceeded while getting the bearer token'))), Math.min(MAX_TIMER_MS, Math.max(0, remaining)))
      : undefined;
    const unsubscribe = onStop(stop, () => settle(() => reject(stoppedError(stop))));
    function settle(finish: () => void): void {
      clearTimeout(timer);
      unsubscribe();
      finish();
    }
    work.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

/** Waits `ms`, or less if the caller aborts or the client is closed (then rejects, see stoppedError). */
function sleep(ms: number, stop: Stop): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, Math.min(MAX_TIMER_MS, ms));
    const unsubscribe = onStop(stop, done);
    function done(): void {
      clearTimeout(timer);
      unsubscribe();
      const err = stoppedError(stop);
      if (err) reject(err);
      else resolve();
    }
  });
}
