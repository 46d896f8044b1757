import type { Knex } from 'knex';

// Mirrors settings.v1.StaffPermission. `role` holds the proto enum name (e.g. 'ROLE_ADMIN', as
// roleToJSON/roleFromJSON produce), so no second spelling of roles exists.
//
// staff_permission_lists holds one row per account whose version is the version of the
// account's whole grant list: every insert/update/delete of a grant touches it, so a cached List
// result can be fenced like a single resource. Touching goes through the row's own BEFORE
// trigger, so the list version comes from the same sequence and, drawn under the list row's
// lock, follows commit order among the account's grant changes.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE staff_permissions (
      account_id text NOT NULL
        CONSTRAINT staff_permissions_account_id_format CHECK (account_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
      staff_id text NOT NULL
        CONSTRAINT staff_permissions_staff_id_format CHECK (staff_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
      role text NOT NULL
        CHECK (role IN ('ROLE_ADMIN', 'ROLE_DOCTOR', 'ROLE_NURSE', 'ROLE_FRONT_DESK', 'ROLE_BILLING')),
      permissions text[] NOT NULL DEFAULT '{}'
        CHECK (cardinality(permissions) <= 200 AND array_position(permissions, NULL) IS NULL),
      disabled boolean NOT NULL DEFAULT false,
      create_time timestamptz NOT NULL DEFAULT now(),
      version bigint NOT NULL,
      update_time timestamptz NOT NULL,
      PRIMARY KEY (account_id, staff_id)
    );

    CREATE TRIGGER staff_permissions_set_version
      BEFORE INSERT OR UPDATE ON staff_permissions
      FOR EACH ROW EXECUTE FUNCTION settings_set_version();

    CREATE TABLE staff_permission_lists (
      account_id text PRIMARY KEY
        CONSTRAINT staff_permission_lists_account_id_format CHECK (account_id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
      version bigint NOT NULL,
      update_time timestamptz NOT NULL
    );

    CREATE TRIGGER staff_permission_lists_set_version
      BEFORE INSERT OR UPDATE ON staff_permission_lists
      FOR EACH ROW EXECUTE FUNCTION settings_set_version();

    -- The no-op SET still fires the BEFORE UPDATE trigger, which is what draws the new version.
    CREATE FUNCTION staff_permission_lists_touch(p_account_id text) RETURNS void
    LANGUAGE sql AS $$
      INSERT INTO staff_permission_lists AS l (account_id) VALUES (p_account_id)
      ON CONFLICT (account_id) DO UPDATE SET account_id = l.account_id;
    $$;

    CREATE FUNCTION staff_permissions_touch_list() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        PERFORM staff_permission_lists_touch(OLD.account_id);
      END IF;
      -- A grant moved to another account changes both lists.
      IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.account_id <> OLD.account_id) THEN
        PERFORM staff_permission_lists_touch(NEW.account_id);
      END IF;
      RETURN NULL;
    END
    $$;

    CREATE TRIGGER staff_permissions_touch_list
      AFTER INSERT OR UPDATE OR DELETE ON staff_permissions
      FOR EACH ROW EXECUTE FUNCTION staff_permissions_touch_list();

    -- Delete events must carry the deleted row's version so the invalidator can fence the cache
    -- key (floor = before.version + 1); the default identity would only send the primary key.
    ALTER TABLE staff_permissions REPLICA IDENTITY FULL;
    ALTER TABLE staff_permission_lists REPLICA IDENTITY FULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE staff_permissions;
    DROP FUNCTION staff_permissions_touch_list();
    DROP TABLE staff_permission_lists;
    DROP FUNCTION staff_permission_lists_touch(text);
  `);
}
