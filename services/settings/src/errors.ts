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
  'ROW_LOCKED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'DEADLINE_EXCEEDED',
  'LOAD_SHED',
  'CALLER_SHARE_EXCEEDED',
  'WATCH_LIMIT_EXCEEDED',
  'WATCH_REPLICA_FULL',
  'LIST_TOO_LARGE',
  'WATCH_UNAVAILABLE',
  'SHUTTING_DOWN',
  'DATABASE_UNAVAILABLE',
  'WRITE_OUTCOME_UNKNOWN',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldViolation {
  /** Path of the offending request field, e.g. `account_settings.time_zone`, `names[3]`. */
  field: string;
  description: string;
}

export interface SettingsErrorOptions extends ErrorOptions {
  /**
   * How long the caller should wait before sending the request again, when this failure knows
   * better than its reason's fixed delay (status-mapping.ts RETRY_DELAY_MS), e.g. how long the
   * saves queued ahead need to drain. Only a reason that has a fixed delay sends one: it never
   * turns a failure that must not be retried blindly into a retryable one.
   */
  retryDelayMs?: number | undefined;
}

export class SettingsError extends Error {
  readonly retryDelayMs: number | undefined;

  /**
   * @param options `cause`: the thrown value this error classifies (ES2022 error cause), e.g. the
   *   node-postgres error behind DATABASE_UNAVAILABLE, so logs show the original and its stack.
   *   Never sent to the caller. `retryDelayMs`: see SettingsErrorOptions.
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fieldViolations: readonly FieldViolation[] = [],
    options?: SettingsErrorOptions,
  ) {
    super(message, options);
    this.name = 'SettingsError';
    this.retryDelayMs = options?.retryDelayMs;
  }
}

/** Characters of a caller-supplied value that error text repeats (see `echo`). */
export const MAX_ECHOED_CHARS = 64;

/**
 * `text`, or its first `maxChars` characters and how long it was. Every caller-supplied value
 * put into an error message or a violation's description goes through this: repeated whole, a
 * 40,000-character update_mask path made a trailer larger than the client accepts (HTTP/2
 * headers), so the call hung until its deadline instead of failing.
 */
export function echo(text: string, maxChars = MAX_ECHOED_CHARS): string {
  if (text.length <= maxChars) return text;
  // Not between the two halves of a surrogate pair: a lone half would be sent as U+FFFD.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(maxChars - 1)) ? maxChars - 1 : maxChars;
  return `${text.slice(0, end)}…(${text.length} characters)`;
}

/**
 * At most this many field violations are sent; the rest are counted. A request of 1 MiB could
 * otherwise produce an error trailer of several MB (one violation per bad element).
 */
export const MAX_REPORTED_VIOLATIONS = 20;

/**
 * INVALID_ARGUMENT with the first MAX_REPORTED_VIOLATIONS violations; when there are more, one
 * final violation (on the first field left out) says how many were not listed.
 */
export function invalidArgument(violations: readonly FieldViolation[], total = violations.length): SettingsError {
  const first = violations[0];
  const summary = first ? `${first.field}: ${first.description}` : 'invalid request';
  const more = total > 1 ? ` (and ${total - 1} more)` : '';
  let reported = violations.slice(0, MAX_REPORTED_VIOLATIONS);
  const omitted = total - reported.length;
  if (omitted > 0) {
    const next = violations[MAX_REPORTED_VIOLATIONS]?.field ?? reported[reported.length - 1]?.field ?? 'request';
    reported = [...reported, { field: next, description: `${omitted} more violation(s) not listed (only the first ${MAX_REPORTED_VIOLATIONS} are reported)` }];
  }
  return new SettingsError('INVALID_ARGUMENT', `${summary}${more}`, reported);
}

/**
 * Collects the problems of a request, so a caller fixes them in one round trip. Keeps the first
 * MAX_REPORTED_VIOLATIONS + 1 (the extra one names where the unlisted ones start) and counts
 * the rest, so a request with many bad elements costs no more memory than a few.
 */
export class Violations {
  private readonly list: FieldViolation[] = [];
  private total = 0;

  add(field: string, description: string): void {
    this.total += 1;
    if (this.list.length <= MAX_REPORTED_VIOLATIONS) this.list.push({ field, description });
  }

  get empty(): boolean {
    return this.total === 0;
  }

  throwIfAny(): void {
    if (this.total > 0) throw invalidArgument(this.list, this.total);
  }
}
