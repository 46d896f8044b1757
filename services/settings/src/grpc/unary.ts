import { status as GrpcStatus, type handleUnaryCall, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from '@settings/shared';
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

export type Handler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;
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
 */
export function createUnary(deps: UnaryDeps): Unary {
  return <Req, Res>(method: string, access: Access, handler: Handler<Req, Res>): handleUnaryCall<Req, Res> =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const startedAt = Date.now();
      const endTimer = deps.metrics.grpcDuration.startTimer({ method });
      const run = async (): Promise<Res> => {
        if (deps.isShuttingDown()) throw new SettingsError('SHUTTING_DOWN', 'server is shutting down; retry on another replica');
        const deadline = deadlineMs(call.getDeadline());
        if (deadline <= startedAt) throw new SettingsError('DEADLINE_EXCEEDED', 'deadline already passed');
        const principal = await deps.authenticator.authenticate(call.metadata);
        requireScope(principal, access);
        // After authentication, so an anonymous caller learns nothing about how a request decodes.
        if (call.request instanceof UndecodableRequest) throw call.request.error;
        const ctx: CallContext = {
          method,
          principal,
          startedAt,
          deadline,
          authorize: (accountId) => authorizeAccount(principal, accountId),
          readRequest: (mode) => ({ mode, startedAt, deadline, caller: principal.subject }),
        };
        return handler(call.request, ctx);
      };
      run().then(
        (response) => {
          deps.metrics.grpcRequests.inc({ method, code: 'OK' });
          endTimer();
          callback(null, response);
        },
        (err: unknown) => {
          const error = classify(err);
          const serviceError = toServiceError(error);
          deps.metrics.grpcRequests.inc({ method, code: GrpcStatus[serviceError.code ?? GrpcStatus.UNKNOWN] ?? 'UNKNOWN' });
          endTimer();
          logFailure(deps.log, method, error, err);
          callback(serviceError);
        },
      );
    };
}

function deadlineMs(deadline: Date | number): number {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : Number.POSITIVE_INFINITY;
}

function logFailure(log: Logger, method: string, error: SettingsError, original: unknown): void {
  switch (error.code) {
    case 'INTERNAL':
      log.error({ err: original, method }, 'unexpected failure');
      return;
    case 'DATABASE_UNAVAILABLE':
      log.warn({ err: original, method }, 'database unavailable');
      return;
    default:
      log.debug({ method, code: error.code, message: error.message }, 'call failed');
  }
}
