import { status as GrpcStatus, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { BadRequest, ErrorInfo, RetryInfo } from '../gen/google/rpc/error_details';
import { Status } from '../gen/google/rpc/status';

const TYPE_PREFIX = 'type.googleapis.com/';

export interface FieldViolation {
  /** Path of the offending request field, e.g. `account_settings.time_zone`. */
  readonly field: string;
  readonly description: string;
}

/**
 * A failed call with the AIP-193 details the settings service sends in `grpc-status-details-bin`
 * decoded: `reason` and `metadata` from google.rpc.ErrorInfo (e.g. ETAG_MISMATCH), the
 * field violations from google.rpc.BadRequest, and the delay google.rpc.RetryInfo asks for.
 */
export class SettingsApiError extends Error {
  /** The gRPC status code (`status.NOT_FOUND`, …). */
  readonly code: GrpcStatus;
  /** The status code's name: `NOT_FOUND`, `INVALID_ARGUMENT`, … */
  readonly codeName: string;
  /** ErrorInfo.reason: machine-readable cause, e.g. `ETAG_MISMATCH`, `ROW_LOCKED`. */
  readonly reason: string | undefined;
  /** ErrorInfo.domain: `settings.v1.SettingsService` for errors of the service itself. */
  readonly domain: string | undefined;
  readonly errorMetadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];
  /** RetryInfo.retry_delay in ms: the server says the call may succeed if retried after it. */
  readonly retryDelayMs: number | undefined;
  /** Which method failed, e.g. `/settings.v1.SettingsService/GetAccountSettings`. */
  readonly path: string;
  /** The server's status message alone (`message` adds the method and code). */
  readonly details: string;

  constructor(path: string, err: ServiceError) {
    super(`${path} ${GrpcStatus[err.code] ?? err.code}: ${err.details}`, { cause: err });
    this.name = 'SettingsApiError';
    this.path = path;
    this.details = err.details;
    this.code = err.code;
    this.codeName = GrpcStatus[err.code] ?? `CODE_${err.code}`;
    const details = decodeDetails(err.metadata);
    this.reason = details.errorInfo?.reason;
    this.domain = details.errorInfo?.domain;
    this.errorMetadata = details.errorInfo?.metadata ?? {};
    this.fieldViolations = details.badRequest?.fieldViolations.map((v) => ({ field: v.field, description: v.description })) ?? [];
    const delay = details.retryInfo?.retryDelay;
    this.retryDelayMs = delay ? delay.seconds * 1000 + delay.nanos / 1e6 : undefined;
  }
}

interface Details {
  errorInfo?: ErrorInfo;
  badRequest?: BadRequest;
  retryInfo?: RetryInfo;
}

function decodeDetails(metadata: Metadata | undefined): Details {
  const raw = metadata?.get('grpc-status-details-bin')[0];
  if (!Buffer.isBuffer(raw)) return {};
  const out: Details = {};
  try {
    for (const any of Status.decode(raw).details) {
      const type = any.typeUrl.startsWith(TYPE_PREFIX) ? any.typeUrl.slice(TYPE_PREFIX.length) : any.typeUrl;
      if (type === 'google.rpc.ErrorInfo') out.errorInfo = ErrorInfo.decode(any.value);
      else if (type === 'google.rpc.BadRequest') out.badRequest = BadRequest.decode(any.value);
      else if (type === 'google.rpc.RetryInfo') out.retryInfo = RetryInfo.decode(any.value);
    }
  } catch {
    // A proxy's or another server's malformed details: the status code and message still stand.
  }
  return out;
}
