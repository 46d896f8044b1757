import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ErrorInfo, RetryInfo, Status } from '../../src/index';
import { RetryBudget } from '../../src/client/retry-budget';
import { retryDelayMs } from '../../src/client/retry-policy';
import { SettingsApiError } from '../../src/client/settings-api-error';

function apiError(code: status, retryDelayMsFromServer?: number): SettingsApiError {
  const metadata = new Metadata();
  if (retryDelayMsFromServer !== undefined) {
    const retryDelay = { seconds: Math.floor(retryDelayMsFromServer / 1000), nanos: (retryDelayMsFromServer % 1000) * 1e6 };
    const details = [{ typeUrl: 'type.googleapis.com/google.rpc.RetryInfo', value: Buffer.from(RetryInfo.encode({ retryDelay }).finish()) }];
    metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code, message: 'x', details }).finish()));
  }
  const err = Object.assign(new Error('x'), { code, details: 'x', metadata }) as ServiceError;
  return new SettingsApiError('/settings.v1.SettingsService/GetAccountSettings', err);
}

it('waits at least the server RetryInfo delay, never less (maxBackoffMs bounds only the client\'s own backoff)', () => {
  expect(retryDelayMs(apiError(status.ABORTED, 250), 1, false, {}, () => 0)).toBe(250);
  expect(retryDelayMs(apiError(status.UNAVAILABLE, 5000), 1, true, { maxBackoffMs: 1000 }, () => 0)).toBe(5000);
  expect(retryDelayMs(apiError(status.UNAVAILABLE, 5000), 1, true, { maxBackoffMs: 1000 }, () => 1)).toBe(6000);
});

it('jitters the first RetryInfo retry already (callers refused together, e.g. by one bulk UPDATE\'s row locks, do not retry in lockstep)', () => {
  expect(retryDelayMs(apiError(status.ABORTED, 250), 1, false, {}, () => 0)).toBe(250);
  expect(retryDelayMs(apiError(status.ABORTED, 250), 1, false, {}, () => 1)).toBeGreaterThan(250);
  expect(retryDelayMs(apiError(status.ABORTED, 250), 1, false, {}, () => 1)).toBe(500);
});

it('backs off further, with jitter, when the same RetryInfo delay keeps failing', () => {
  expect(retryDelayMs(apiError(status.ABORTED, 250), 3, false, {}, () => 0)).toBe(250);
  expect(retryDelayMs(apiError(status.ABORTED, 250), 3, false, {}, () => 1)).toBe(1250);
  expect(retryDelayMs(apiError(status.ABORTED, 250), 2, false, {}, () => 0.5)).toBe(500);
});

it('retries only UNAVAILABLE and ABORTED (RESOURCE_EXHAUSTED only with RetryInfo, as the proto says), and at most maxAttempts in all', () => {
  expect(retryDelayMs(apiError(status.RESOURCE_EXHAUSTED, 100), 1, true, {}, () => 0)).toBe(100);
  expect(retryDelayMs(apiError(status.RESOURCE_EXHAUSTED), 1, true, {})).toBeUndefined();
  expect(retryDelayMs(apiError(status.INVALID_ARGUMENT, 100), 1, true, {})).toBeUndefined();
  expect(retryDelayMs(apiError(status.DEADLINE_EXCEEDED), 1, true, {})).toBeUndefined();
  expect(retryDelayMs(apiError(status.ABORTED, 100), 4, true, { maxAttempts: 4 })).toBeUndefined();
  expect(retryDelayMs(apiError(status.ABORTED, 100), 1, true, { maxAttempts: 1 })).toBeUndefined();
});

it('a write is retried only when the server sent RetryInfo; a read also without, with jittered exponential backoff', () => {
  expect(retryDelayMs(apiError(status.UNAVAILABLE), 1, false, {})).toBeUndefined();
  expect(retryDelayMs(apiError(status.UNAVAILABLE), 1, true, { initialBackoffMs: 100 }, () => 1)).toBe(100);
  expect(retryDelayMs(apiError(status.UNAVAILABLE), 3, true, { initialBackoffMs: 100 }, () => 1)).toBe(400);
  expect(retryDelayMs(apiError(status.UNAVAILABLE), 3, true, { initialBackoffMs: 100 }, () => 0.5)).toBe(200);
});

it('a write answered UNAVAILABLE WRITE_OUTCOME_UNKNOWN (no RetryInfo: it may have been applied) is not retried', () => {
  const metadata = new Metadata();
  const details = [{ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from(ErrorInfo.encode({ reason: 'WRITE_OUTCOME_UNKNOWN', domain: 'settings.v1.SettingsService', metadata: {} }).finish()) }];
  metadata.set('grpc-status-details-bin', Buffer.from(Status.encode({ code: status.UNAVAILABLE, message: 'x', details }).finish()));
  const err = new SettingsApiError('/settings.v1.SettingsService/UpdateAccountSettings', Object.assign(new Error('x'), { code: status.UNAVAILABLE, details: 'x', metadata }) as ServiceError);
  expect({ reason: err.reason, retryDelayMs: err.retryDelayMs }).toEqual({ reason: 'WRITE_OUTCOME_UNKNOWN', retryDelayMs: undefined });
  expect(retryDelayMs(err, 1, false, {})).toBeUndefined();
});

it('malformed status details leave code and message intact', () => {
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', Buffer.from([0xff, 0xff, 0xff]));
  const e = new SettingsApiError('/p', Object.assign(new Error('x'), { code: status.UNAVAILABLE, details: 'down', metadata }) as ServiceError);
  expect({ code: e.codeName, reason: e.reason, violations: e.fieldViolations, message: e.message }).toEqual({ code: 'UNAVAILABLE', reason: undefined, violations: [], message: '/p UNAVAILABLE: down' });
});

describe('RetryBudget (gRFC A6 retry throttling: 10 tokens, 0.1 back per success)', () => {
  it('allows retries until retryable failures take the bucket to half, and again after enough successes', () => {
    const budget = new RetryBudget();
    for (let i = 0; i < 4; i++) budget.recordRetryableFailure();
    expect(budget.allowsRetry()).toBe(true); // 6 tokens
    budget.recordRetryableFailure();
    expect(budget.allowsRetry()).toBe(false); // 5: half, no retries
    for (let i = 0; i < 20; i++) budget.recordRetryableFailure();
    for (let i = 0; i < 49; i++) budget.recordSuccess();
    expect(budget.allowsRetry()).toBe(false); // never below 0: 4.9 tokens after 49 successes
    budget.recordSuccess();
    budget.recordSuccess();
    expect(budget.allowsRetry()).toBe(true); // 5.1
  });

  it('never holds more than 10 tokens, however many calls succeeded', () => {
    const budget = new RetryBudget();
    for (let i = 0; i < 1000; i++) budget.recordSuccess();
    for (let i = 0; i < 5; i++) budget.recordRetryableFailure();
    expect(budget.allowsRetry()).toBe(false);
  });
});
