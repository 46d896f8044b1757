/**
 * The closed list of failures the service reports on purpose. Handlers throw SettingsError
 * with one of these codes; src/grpc/status-mapping.ts is the only place that turns them (and
 * stray database errors) into gRPC statuses, so a new failure mode needs a new code here.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'ETAG_MISMATCH',
  'CONCURRENT_MODIFICATION',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'DEADLINE_EXCEEDED',
  'LOAD_SHED',
  'SHUTTING_DOWN',
  'DATABASE_UNAVAILABLE',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldViolation {
  /** Path of the offending request field, e.g. `account_settings.time_zone`, `names[3]`. */
  field: string;
  description: string;
}

export class SettingsError extends Error {
  /**
   * @param options `cause`: the thrown value this error classifies (ES2022 error cause), e.g. the
   *   node-postgres error behind DATABASE_UNAVAILABLE, so logs show the original and its stack.
   *   Never sent to the caller.
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'SettingsError';
  }
}

export function invalidArgument(violations: readonly FieldViolation[]): SettingsError {
  const first = violations[0];
  const summary = first ? `${first.field}: ${first.description}` : 'invalid request';
  const more = violations.length > 1 ? ` (and ${violations.length - 1} more)` : '';
  return new SettingsError('INVALID_ARGUMENT', `${summary}${more}`, violations);
}

/** Collects every problem of a request, so a caller fixes them in one round trip. */
export class Violations {
  private readonly list: FieldViolation[] = [];

  add(field: string, description: string): void {
    this.list.push({ field, description });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw invalidArgument(this.list);
  }
}
