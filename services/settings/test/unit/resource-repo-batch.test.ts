import { ResourceRepo } from '../../src/db/resource-repo';
import type { Db } from '../../src/db/db';
import { doctorSettings } from '../../src/resources/doctor-settings/doctor-settings';
import type { Row } from '../../src/resources/resource';

/**
 * Misses of several callers share one query (batched-load.ts). A row that cannot become a message
 * (here `working_hours = '[null]'`, which the database CHECK lets through: a backfill's
 * jsonb_agg over an empty LEFT JOIN writes it) must fail the callers of its own key only, not
 * every caller, of every tenant, whose miss shared its batch.
 */
const row = (account: string, workingHours: unknown): Row => ({
  account_id: account, doctor_id: 'dr-1', display_name: 'Dr. One', specialty: '', default_appointment_duration_minutes: 20,
  online_booking_enabled: true, accepting_new_patients: true, working_hours: workingHours,
  notification_new_booking_alerts_enabled: true, notification_cancellation_alerts_enabled: true, notification_daily_agenda_email_enabled: true,
  version: '7', update_time: new Date('2026-12-01T00:00:00Z'),
});

it('a row that cannot be mapped fails the callers of its key only, not the other callers of the batch', async () => {
  let queries = 0;
  const db = {
    read: async () => {
      queries += 1;
      return [row('good', []), row('bad', [null])];
    },
  } as unknown as Db;
  const repo = new ResourceRepo(db, doctorSettings, { issue: (v: bigint) => `token-${v}` });
  const [good, bad] = await Promise.allSettled([
    repo.load([{ account_id: 'good', doctor_id: 'dr-1' }], Date.now() + 1000),
    repo.load([{ account_id: 'bad', doctor_id: 'dr-1' }], Date.now() + 1000),
  ]);
  expect(queries).toBe(1);
  expect(good.status).toBe('fulfilled');
  expect(good.status === 'fulfilled' && [...good.value.values()].map((l) => l.version)).toEqual([7n]);
  expect(bad.status).toBe('rejected');
});
