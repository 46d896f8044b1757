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
