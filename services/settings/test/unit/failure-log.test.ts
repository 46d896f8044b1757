import { createLogger } from '@settings/shared';
import { SettingsError } from '../../src/errors';
import { logFailure } from '../../src/grpc/unary';

it('a save whose outcome is unknown is logged even right after a "database unavailable" line of the same outage', () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('test', 'debug', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  logFailure(log, 'GetAccountSettings', new SettingsError('DATABASE_UNAVAILABLE', 'x'), new Error('Connection terminated unexpectedly'));
  logFailure(log, 'UpdateAccountSettings', new SettingsError('WRITE_OUTCOME_UNKNOWN', 'y'), new Error('Connection terminated unexpectedly'));
  expect(lines.map((l) => [l.method, l.msg])).toEqual([
    ['GetAccountSettings', 'database unavailable'],
    ['UpdateAccountSettings', expect.stringMatching(/^save outcome unknown/)],
  ]);
});

it("the calls of an outage's last second that were not logged one by one are counted in a line when that second ends", () => {
  jest.useFakeTimers();
  try {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('test', 'debug', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    jest.advanceTimersByTime(2000); // past the window of the test above (the samplers are per process)
    for (let i = 0; i < 3; i++) logFailure(log, 'GetAccountSettings', new SettingsError('DATABASE_UNAVAILABLE', 'x'), new Error('connect ECONNREFUSED'));
    expect(lines.map((l) => l.msg)).toEqual(['database unavailable']);
    jest.advanceTimersByTime(1000);
    expect(lines.map((l) => [l.msg, l.suppressed])).toEqual([
      ['database unavailable', 0],
      [expect.stringMatching(/^database unavailable: more calls/), 2],
    ]);
  } finally {
    jest.useRealTimers();
  }
});
