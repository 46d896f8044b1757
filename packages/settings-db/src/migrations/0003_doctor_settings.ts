import type { Knex } from 'knex';

// Mirrors settings.v1.DoctorSettings; notification_preferences.* -> notification_*.
// working_hours is jsonb because it is a repeated message that is always read and replaced as a
// whole: an array of settings.v1.WorkingHours in proto3 JSON form, e.g.
// [{"dayOfWeek":"DAY_OF_WEEK_MONDAY","startTime":"09:00","endTime":"17:00"}].
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE doctor_settings (
      account_id text NOT NULL
        CONSTRAINT doctor_settings_account_id_format CHECK (account_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
      doctor_id text NOT NULL
        CONSTRAINT doctor_settings_doctor_id_format CHECK (doctor_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
      display_name text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 200),
      specialty text NOT NULL DEFAULT '' CHECK (char_length(specialty) <= 100),
      -- 0 means "use the account default".
      default_appointment_duration_minutes integer NOT NULL DEFAULT 0
        CHECK (default_appointment_duration_minutes = 0
               OR default_appointment_duration_minutes BETWEEN 5 AND 480),
      online_booking_enabled boolean NOT NULL DEFAULT false,
      accepting_new_patients boolean NOT NULL DEFAULT true,
      working_hours jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(working_hours) = 'array' AND jsonb_array_length(working_hours) <= 50),
      notification_new_booking_alerts_enabled boolean NOT NULL DEFAULT true,
      notification_cancellation_alerts_enabled boolean NOT NULL DEFAULT true,
      notification_daily_agenda_email_enabled boolean NOT NULL DEFAULT false,
      version bigint NOT NULL,
      update_time timestamptz NOT NULL,
      PRIMARY KEY (account_id, doctor_id)
    );

    CREATE TRIGGER doctor_settings_set_version
      BEFORE INSERT OR UPDATE ON doctor_settings
      FOR EACH ROW EXECUTE FUNCTION settings_set_version();

    -- Delete events must carry the deleted row's version so the invalidator can fence the cache
    -- key (floor = before.version + 1); the default identity would only send the primary key.
    ALTER TABLE doctor_settings REPLICA IDENTITY FULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE doctor_settings');
}
