import type { Knex } from 'knex';

// A TRUNCATE of staff_permissions empties every account's grant list, but row triggers do not
// fire on TRUNCATE, so no list version moved: a Watch resumed with the list version it had
// before was told nothing changed (settings README, former non-guarantee 27), and nothing but
// the invalidator's generation change told a cache the list was gone. This statement trigger
// touches every list row first, in the TRUNCATE's transaction: each list gets a new version
// from the sequence (its BEFORE UPDATE trigger), Debezium publishes those updates with the
// TRUNCATE, and the invalidator fences each list key at its new version. Cost: one UPDATE of
// staff_permission_lists (a row per account with grants) per TRUNCATE, an operator's act.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION staff_permissions_truncate_touch_lists() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      -- The no-op SET still fires the BEFORE UPDATE trigger, which draws the new version.
      UPDATE staff_permission_lists SET account_id = account_id;
      RETURN NULL;
    END
    $$;

    CREATE TRIGGER staff_permissions_truncate_touch_lists
      BEFORE TRUNCATE ON staff_permissions
      FOR EACH STATEMENT EXECUTE FUNCTION staff_permissions_truncate_touch_lists();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER staff_permissions_truncate_touch_lists ON staff_permissions;
    DROP FUNCTION staff_permissions_truncate_touch_lists();
  `);
}
