import type { Knex } from 'knex';

// Mirrors settings.v1.AccountSettings. Nested proto messages are flattened with a prefix:
// appointment_defaults.* -> appointment_*, notification_preferences.* -> notification_*,
// billing.* -> billing_*. Column defaults are what a row created by an allow_missing Update
// gets for fields outside the mask. CHECKs repeat the API's documented ranges as a backstop
// for writes that bypass the service.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE account_settings (
      account_id text PRIMARY KEY
        CONSTRAINT account_settings_account_id_format CHECK (account_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
      display_name text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 200),
      time_zone text NOT NULL DEFAULT 'UTC',
      locale text NOT NULL DEFAULT 'en-US',
      contact_phone_number text NOT NULL DEFAULT ''
        CHECK (contact_phone_number ~ '^([+][1-9][0-9]{1,14}){0,1}$'),
      contact_email text NOT NULL DEFAULT '' CHECK (char_length(contact_email) <= 254),
      appointment_default_duration_minutes integer NOT NULL DEFAULT 30
        CHECK (appointment_default_duration_minutes BETWEEN 5 AND 480),
      appointment_slot_granularity_minutes integer NOT NULL DEFAULT 15
        CHECK (appointment_slot_granularity_minutes IN (5, 10, 15, 20, 30, 60)),
      appointment_allow_double_booking boolean NOT NULL DEFAULT false,
      notification_email_reminders_enabled boolean NOT NULL DEFAULT true,
      notification_sms_reminders_enabled boolean NOT NULL DEFAULT false,
      notification_reminder_lead_hours integer NOT NULL DEFAULT 24
        CHECK (notification_reminder_lead_hours BETWEEN 1 AND 168),
      billing_currency_code text NOT NULL DEFAULT 'USD' CHECK (billing_currency_code ~ '^[A-Z]{3}$'),
      billing_group_npi text NOT NULL DEFAULT '' CHECK (billing_group_npi ~ '^([0-9]{10}){0,1}$'),
      billing_patient_statements_enabled boolean NOT NULL DEFAULT true,
      billing_statement_due_days integer NOT NULL DEFAULT 30
        CHECK (billing_statement_due_days BETWEEN 0 AND 120),
      version bigint NOT NULL,
      update_time timestamptz NOT NULL
    );

    CREATE TRIGGER account_settings_set_version
      BEFORE INSERT OR UPDATE ON account_settings
      FOR EACH ROW EXECUTE FUNCTION settings_set_version();

    -- Delete events must carry the deleted row's version so the invalidator can fence the cache
    -- key (floor = before.version + 1); the default identity would only send the primary key.
    ALTER TABLE account_settings REPLICA IDENTITY FULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE account_settings');
}
