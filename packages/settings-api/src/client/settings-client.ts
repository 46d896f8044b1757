import { credentials as grpcCredentials, Metadata, status, type ChannelCredentials, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { SettingsServiceClient, SettingsServiceService } from '../gen/settings/v1/settings_service';
import { authorizationHeader, type TokenSource } from './bearer-token';
import { retryDelayMs, type RetryOptions } from './retry-policy';
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
  const methods: Partial<Record<SettingsMethod, unknown>> = {};
  for (const name of unaryMethods()) {
    methods[name] = (request: unknown, callOptions: CallOptions = {}) => call(grpc, name, request, options, callOptions);
  }
  return { ...(methods as SettingsMethods), grpc, close: () => grpc.close() };
}

function unaryMethods(): SettingsMethod[] {
  const all = Object.entries(SettingsServiceService) as Array<[string, { requestStream: boolean; responseStream: boolean }]>;
  return all.filter(([, d]) => !d.requestStream && !d.responseStream).map(([name]) => name as SettingsMethod);
}

async function call(grpc: SettingsServiceClient, name: SettingsMethod, request: unknown, client: SettingsClientOptions, options: CallOptions): Promise<unknown> {
  const definition = SettingsServiceService[name];
  const deadline = Date.now() + (options.deadlineMs ?? client.deadlineMs ?? DEFAULT_DEADLINE_MS);
  const retry = { ...client.retry, ...options.retry };
  for (let attempt = 1; ; attempt++) {
    // A cancelled call is never started: grpc-js sends a call cancelled before its metadata is
    // out anyway (its resolving call has no child yet), and a save sent after the caller was
    // told CANCELLED would be applied behind its back.
    throwIfAborted(options.signal, definition.path);
    const metadata = new Metadata();
    if (client.token !== undefined) metadata.set('authorization', await withinCall(authorizationHeader(client.token), deadline, options.signal, definition.path));
    throwIfAborted(options.signal, definition.path);
    try {
      return await attemptCall(grpc, definition, request, metadata, deadline, options.signal);
    } catch (err) {
      if (!(err instanceof SettingsApiError)) throw err;
      const delay = retryDelayMs(err, attempt, IDEMPOTENT.test(definition.path), retry);
      // A wait that ends past the deadline would only turn this error into DEADLINE_EXCEEDED.
      if (delay === undefined || Date.now() + delay >= deadline || options.signal?.aborted) throw err;
      await sleep(delay, options.signal);
    }
  }
}

type AnyMethod = Methods[SettingsMethod];

function attemptCall(grpc: SettingsServiceClient, definition: AnyMethod, request: unknown, metadata: Metadata, deadline: number, signal: AbortSignal | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const serialize = definition.requestSerialize as (value: unknown) => Buffer;
    const deserialize = definition.responseDeserialize as (bytes: Buffer) => unknown;
    const pending = grpc.makeUnaryRequest(definition.path, serialize, deserialize, request, metadata, { deadline }, (err: ServiceError | null, response?: unknown) => {
      signal?.removeEventListener('abort', cancel);
      if (err) reject(new SettingsApiError(definition.path, err));
      else resolve(response);
    });
    function cancel(): void {
      pending.cancel();
    }
    signal?.addEventListener('abort', cancel, { once: true });
  });
}

function throwIfAborted(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted) throw cancelledError(path);
}

const cancelledError = (path: string): SettingsApiError =>
  new SettingsApiError(path, Object.assign(new Error('cancelled'), { code: status.CANCELLED, details: 'cancelled by the caller', metadata: new Metadata() }) as ServiceError);

/**
 * `work` (fetching the bearer token) bounded like the call it belongs to: a token source that
 * hangs fails the call at its deadline (DEADLINE_EXCEEDED) or when the caller aborts (CANCELLED),
 * instead of holding the caller past both until the source answers.
 */
function withinCall<T>(work: Promise<T>, deadline: number, signal: AbortSignal | undefined, path: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => settle(() => reject(new SettingsApiError(path, Object.assign(new Error('deadline exceeded'), { code: status.DEADLINE_EXCEEDED, details: 'deadline exceeded while getting the bearer token', metadata: new Metadata() }) as ServiceError))), Math.max(0, deadline - Date.now()));
    const abort = (): void => settle(() => reject(cancelledError(path)));
    function settle(finish: () => void): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      finish();
    }
    signal?.addEventListener('abort', abort, { once: true });
    work.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => settle(() => reject(err)),
    );
  });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
