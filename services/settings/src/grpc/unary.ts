import { status as GrpcStatus, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { LogSampler, type Logger } from '@settings/shared';
import type { ReadMode } from '../consistency/read-mode';
import type { ReadRequest } from '../cache/read-through';
import { SettingsError } from '../errors';
import type { SettingsMetrics } from '../metrics';
import { authorizeAccount, requireScope, type Access, type Authenticator, type Principal } from './auth';
import { UndecodableRequest } from './request-decoding';
import { classify, toServiceError } from './status-mapping';

/** What a handler knows about its call besides the request. */
export interface CallContext {
  readonly method: string;
  readonly principal: Principal;
  /** Epoch ms when the call arrived. */
  readonly startedAt: number;
  /** Epoch ms; Infinity when the caller set no deadline. */
  readonly deadline: number;
  /** Throws PERMISSION_DENIED unless the caller may use this account. */
  authorize(accountId: string): void;
  readRequest(mode: ReadMode): ReadRequest;
}

/** A value when the handler could answer at once (a near-cache hit), else a promise of one. */
export type Handler<Req, Res> = (request: Req, ctx: CallContext) => Res | Promise<Res>;
export type Unary = <Req, Res>(method: string, access: Access, handler: Handler<Req, Res>) => handleUnaryCall<Req, Res>;

export interface UnaryDeps {
  authenticator: Authenticator;
  metrics: SettingsMetrics;
  log: Logger;
  isShuttingDown(): boolean;
}

/**
 * Every method runs through here: shutdown and deadline checks, authentication and scope,
 * metrics, and the single error mapping at the service boundary.
 *
 * Written for the cached-read hot path (a near-cache hit costs less than this wrapper did): no
 * per-call closures, metric children bound once per method, and no promise at all when the
 * caller's token is already verified and the handler answers synchronously (a near-cache hit):
 * each async frame and await of a call costs microtask turns the empty grpc-js handler does not
 * pay (CPU profile of a saturated cached Get, issue 11).
 */
export function createUnary(deps: UnaryDeps): Unary {
  return <Req, Res>(method: string, access: Access, handler: Handler<Req, Res>): handleUnaryCall<Req, Res> => {
    const m: MethodRuntime<Req, Res> = { deps, method, access, handler, duration: deps.metrics.grpcDuration.child(method) };
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => serve(m, call, callback);
  };
}

/** One method's wrapper state, built once when the service is wired. */
interface MethodRuntime<Req, Res> {
  readonly deps: UnaryDeps;
  readonly method: string;
  readonly access: Access;
  readonly handler: Handler<Req, Res>;
  /** settings_grpc_request_duration_seconds{method}, bound once. */
  readonly duration: { observe(seconds: number): void };
}

function serve<Req, Res>(m: MethodRuntime<Req, Res>, call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void {
  const startedAt = Date.now();
  // Monotonic, like prom-client's startTimer (process.hrtime).
  const started = performance.now();
  let response: Res | Promise<Res>;
  try {
    if (m.deps.isShuttingDown()) throw new SettingsError('SHUTTING_DOWN', 'server is shutting down; retry on another replica');
    const deadline = deadlineMs(call.getDeadline());
    if (deadline <= startedAt) throw new SettingsError('DEADLINE_EXCEEDED', 'deadline already passed');
    const principal = m.deps.authenticator.authenticate(call.metadata);
    response = principal instanceof Promise ? principal.then((p) => run(m, call, startedAt, deadline, p)) : run(m, call, startedAt, deadline, principal);
  } catch (err: unknown) {
    fail(m, callback, started, err);
    return;
  }
  if (response instanceof Promise) void settle(m, response, callback, started);
  else succeed(m, callback, started, response);
}

/** The slow path: the token had to be verified, or the handler went to Redis or PostgreSQL. */
async function settle<Req, Res>(m: MethodRuntime<Req, Res>, pending: Promise<Res>, callback: sendUnaryData<Res>, started: number): Promise<void> {
  let response: Res;
  try {
    response = await pending;
  } catch (err: unknown) {
    fail(m, callback, started, err);
    return;
  }
  succeed(m, callback, started, response);
}

function succeed<Req, Res>(m: MethodRuntime<Req, Res>, callback: sendUnaryData<Res>, started: number, response: Res): void {
  m.deps.metrics.grpcRequestTally.inc(m.method, 'OK');
  m.duration.observe((performance.now() - started) / 1000);
  // Not inside a try: a throw from grpc-js here must not answer the call a second time.
  callback(null, response);
}

function fail<Req, Res>(m: MethodRuntime<Req, Res>, callback: sendUnaryData<Res>, started: number, err: unknown): void {
  const error = classify(err);
  const serviceError = toServiceError(error);
  m.deps.metrics.grpcRequestTally.inc(m.method, GrpcStatus[serviceError.code ?? GrpcStatus.UNKNOWN] ?? 'UNKNOWN');
  m.duration.observe((performance.now() - started) / 1000);
  logFailure(m.deps.log, m.method, error, err);
  callback(serviceError);
}

/** Everything after authentication; throws (or rejects) with what the caller is told. */
function run<Req, Res>(m: MethodRuntime<Req, Res>, call: ServerUnaryCall<Req, Res>, startedAt: number, deadline: number, principal: Principal): Res | Promise<Res> {
  requireScope(principal, m.access);
  // After authentication, so an anonymous caller learns nothing about how a request decodes.
  if (call.request instanceof UndecodableRequest) throw call.request.error;
  return m.handler(call.request, new UnaryCallContext(m.method, principal, startedAt, deadline));
}

/** A class, not an object literal with arrow functions: no closures allocated per call. */
class UnaryCallContext implements CallContext {
  constructor(
    readonly method: string,
    readonly principal: Principal,
    readonly startedAt: number,
    readonly deadline: number,
  ) {}

  authorize(accountId: string): void {
    authorizeAccount(this.principal, accountId);
  }

  readRequest(mode: ReadMode): ReadRequest {
    return { mode, startedAt: this.startedAt, deadline: this.deadline, caller: this.principal.subject };
  }
}

function deadlineMs(deadline: Date | number): number {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY;
}

/**
 * One "database unavailable" line a second at most, for the whole process: while PostgreSQL is
 * down or a pool is exhausted every call fails this way, and logging each (error, stack, a
 * synchronous write) costs the CPU an overloaded process lacks. `suppressed` = calls since the
 * previous line that failed the same way unlogged; settings_grpc_requests_total counts them all.
 */
const databaseUnavailableLog = new LogSampler(1000);
/**
 * A save that may have been applied without its answer has a sampler of its own: behind the
 * outage's "database unavailable" line of the same second it went unlogged, and the log was the
 * only record of which method's save it was (settings_grpc_requests_total shows UNAVAILABLE).
 */
const outcomeUnknownLog = new LogSampler(1000);

/** Logs a failed call at a level and rate that fits its kind (exported for its unit test). */
export function logFailure(log: Logger, method: string, error: SettingsError, original: unknown): void {
  switch (error.code) {
    case 'INTERNAL':
      log.error({ err: original, method }, 'unexpected failure');
      return;
    case 'WRITE_OUTCOME_UNKNOWN': {
      const suppressed = outcomeUnknownLog.take((n) => log.warn({ suppressed: n }, 'save outcome unknown: more saves lost their answer in the last second (not logged one by one)'));
      if (suppressed !== undefined) log.warn({ err: original, method, suppressed }, 'save outcome unknown: the database connection was lost after the save was sent (it may have been applied)');
      return;
    }
    case 'DATABASE_UNAVAILABLE': {
      const suppressed = databaseUnavailableLog.take((n) => log.warn({ suppressed: n }, 'database unavailable: more calls failed so in the last second (not logged one by one)'));
      if (suppressed !== undefined) log.warn({ err: original, method, suppressed }, 'database unavailable');
      return;
    }
    default:
      log.debug({ method, code: error.code, message: error.message }, 'call failed');
  }
}
