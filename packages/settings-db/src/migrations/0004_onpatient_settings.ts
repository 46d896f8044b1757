import type { Knex } from 'knex';

// Mirrors settings.v1.OnPatientSettings. Everything defaults to off: a portal is opened for
// patients only by an explicit write.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE onpatient_settings (
      account_id text PRIMARY KEY
        CONSTRAINT onpatient_settings_account_id_format CHECK (account_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
      portal_enabled boolean NOT NULL DEFAULT false,
      online_scheduling_enabled boolean NOT NULL DEFAULT false,
      messaging_enabled boolean NOT NULL DEFAULT false,
      bill_pay_enabled boolean NOT NULL DEFAULT false,
      intake_forms_enabled boolean NOT NULL DEFAULT false,
      lab_results_enabled boolean NOT NULL DEFAULT false,
      lab_results_release_delay_hours integer NOT NULL DEFAULT 0
        CHECK (lab_results_release_delay_hours BETWEEN 0 AND 720),
      welcome_message text NOT NULL DEFAULT '' CHECK (char_length(welcome_message) <= 2000),
      support_phone_number text NOT NULL DEFAULT ''
        CHECK (support_phone_number ~ '^([+][1-9][0-9]{1,14}){0,1}$'),
      version bigint NOT NULL,
      update_time timestamptz NOT NULL
    );

    CREATE TRIGGER onpatient_settings_set_version
      BEFORE INSERT OR UPDATE ON onpatient_settings
      FOR EACH ROW EXECUTE FUNCTION settings_set_version();

    -- Delete events must carry the deleted row's version so the invalidator can fence the cache
    -- key (floor = before.version + 1); the default identity would only send the primary key.
    ALTER TABLE onpatient_settings REPLICA IDENTITY FULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE onpatient_settings');
}
