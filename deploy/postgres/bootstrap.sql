-- Database bootstrap for the settings cache: roles, grants, default privileges and the
-- logical-replication publication Debezium reads. For the DBA; docs/operations.md#postgresql-prerequisites.
--
-- Run it connected to the settings database as a superuser (or, on a managed service, the
-- admin role: rds_superuser, cloudsqlsuperuser, azure_pg_admin), with any client:
--   psql "postgres://<admin>@<host>:5432/settings?sslmode=verify-full" -v ON_ERROR_STOP=1 -f deploy/postgres/bootstrap.sql
--   1. once BEFORE the first migration (roles and privileges; the publication is skipped
--      with a NOTICE while its tables do not exist yet), then
--   2. AFTER the first migration, and after every migration that adds a table (grants on
--      the new tables; the publication is created or brought in line with the list below).
-- Idempotent: every statement checks what exists or is a GRANT/ALTER that can be repeated.
-- No passwords here: set them out of band (ALTER ROLE ... PASSWORD, or IAM authentication)
-- and put them into the Kubernetes Secrets listed in docs/operations.md.
-- No psql meta-commands, so the local stack can run the file through node-postgres.
--
-- Roles (fixed names: the Secrets, the connector config and the tests use them):
--   settings_owner     owns the schema objects; the migration Job (Secret settings-db-migrator)
--   settings_app       DML only; the settings service (Secret settings-db)
--   debezium_settings  REPLICATION, reads the publication, upserts the heartbeat; no DDL
--   settings_monitor   pg_monitor, for postgres_exporter (Secret settings-postgres-exporter)
--   settings_auditor   SELECT on the cached tables only, for the invalidator's staleness
--                      auditor (Secret settings-db-auditor)

-- ---------------------------------------------------------------------------------------
-- Server settings. ALTER SYSTEM cannot run in a transaction or DO block, and managed services
-- set these in their parameter group instead; so they are listed here and checked below.
--   ALTER SYSTEM SET wal_level = 'logical';              -- restart; pgoutput logical decoding
--   ALTER SYSTEM SET max_slot_wal_keep_size = '20GB';    -- an abandoned slot cannot fill the disk
--   ALTER SYSTEM SET max_replication_slots = 10;         -- >= slots in use + 2
--   ALTER SYSTEM SET max_wal_senders = 10;               -- >= senders in use + 2
-- PostgreSQL 17+ with a physical standby, so the slot survives a failover
-- (docs/operations.md#postgresql-failover; the connector sets slot.failover=true):
--   on the primary:  ALTER SYSTEM SET synchronized_standby_slots = '<standby physical slot>';
--   on the standby:  ALTER SYSTEM SET sync_replication_slots = on;
--                    ALTER SYSTEM SET hot_standby_feedback = on;
--                    primary_slot_name = '<standby physical slot>', and dbname=settings in primary_conninfo
DO $$
BEGIN
  IF current_setting('wal_level') <> 'logical' THEN
    RAISE WARNING 'wal_level is %, Debezium needs logical (ALTER SYSTEM SET wal_level = logical; then restart)', current_setting('wal_level');
  END IF;
  IF current_setting('max_slot_wal_keep_size') IN ('-1', '-1MB') THEN
    RAISE WARNING 'max_slot_wal_keep_size is unlimited: an abandoned replication slot can fill the disk (set e.g. 20GB)';
  END IF;
  IF current_setting('server_version_num')::int >= 170000 AND current_setting('sync_replication_slots', true) IS DISTINCT FROM 'on' THEN
    RAISE NOTICE 'PostgreSQL 17+: set sync_replication_slots = on on the standby so the failover slot survives a failover';
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Roles, LOGIN without password. The replication user is NOT a member of settings_owner: it
-- gets no DDL rights (the publication is created below).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'settings_owner') THEN
    CREATE ROLE settings_owner LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'settings_app') THEN
    CREATE ROLE settings_app LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'debezium_settings') THEN
    -- Managed services grant replication through a role instead (GRANT rds_replication TO
    -- debezium_settings; cloudsqlsuperuser / REPLICATION via the console): the statement
    -- below then fails with "must be superuser"; create the role with their tooling.
    CREATE ROLE debezium_settings LOGIN REPLICATION;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'settings_auditor') THEN
    CREATE ROLE settings_auditor LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'settings_monitor') THEN
    CREATE ROLE settings_monitor LOGIN;
  END IF;
END
$$;

GRANT pg_monitor TO settings_monitor;

-- ---------------------------------------------------------------------------------------
-- Database and schema. PostgreSQL 15+ no longer lets every role create in schema public, so
-- the owner role needs CREATE explicitly; the others only USAGE.
DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO settings_owner, settings_app, debezium_settings, settings_monitor, settings_auditor', current_database());
  -- knex and the advisory-lock migration runner use temporary objects only through the owner.
  -- Every other role loses the right PUBLIC has by default: a temporary object shadows a
  -- table or sequence of the same name for its session (a temporary settings_version_seq would
  -- hand that session's writes tiny versions, which no marker fences).
  EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO settings_owner', current_database());
END
$$;

GRANT USAGE, CREATE ON SCHEMA public TO settings_owner;
GRANT USAGE ON SCHEMA public TO settings_app, debezium_settings, settings_auditor;

-- ---------------------------------------------------------------------------------------
-- Default privileges: whatever a migration (running as settings_owner) creates later is usable
-- by the service at once, including sequences: the version trigger (settings_set_version,
-- not SECURITY DEFINER) calls nextval('settings_version_seq') as the writing role, and
-- bigserial columns do the same. Requires running this file as a member of settings_owner or
-- a superuser. New tables still need the explicit grants below and, when cached, the
-- publication: the unit test deploy/k8s/test/unit/postgres-bootstrap.test.ts fails until
-- this file names every table and sequence the migrations create.
ALTER DEFAULT PRIVILEGES FOR ROLE settings_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO settings_app;
ALTER DEFAULT PRIVILEGES FOR ROLE settings_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO settings_app;
ALTER DEFAULT PRIVILEGES FOR ROLE settings_owner IN SCHEMA public
  GRANT EXECUTE ON FUNCTIONS TO settings_app;

-- ---------------------------------------------------------------------------------------
-- Grants on objects that already exist (second run onwards). Explicit names, not ALL TABLES:
-- the migration bookkeeping (knex_migrations*) stays the owner's, and a table a migration
-- adds without a line here fails the unit test instead of silently having no grant.
DO $$
DECLARE
  -- Every table the service reads or writes.
  app_tables text[] := ARRAY[
    'account_settings', 'doctor_settings', 'onpatient_settings',
    'staff_permissions', 'staff_permission_lists', 'staff_permission_audit'
  ];
  -- Every sequence a write by the service draws from (trigger or column default).
  app_sequences text[] := ARRAY['settings_version_seq', 'staff_permission_audit_id_seq'];
  t text;
BEGIN
  FOREACH t IN ARRAY app_tables LOOP
    IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.%I TO settings_app', t);
      -- The staleness auditor only compares row versions: read-only, nothing else.
      EXECUTE format('GRANT SELECT ON TABLE public.%I TO settings_auditor', t);
    END IF;
  END LOOP;
  FOREACH t IN ARRAY app_sequences LOOP
    IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
      EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO settings_app', t);
    END IF;
  END LOOP;
  -- The audit of grant changes is append-only (migration 0006): the service inserts, and a
  -- compromised service must not rewrite or erase it. It holds actors and whole grants, which
  -- the staleness auditor (row versions of cached tables only) has no business reading.
  IF to_regclass('public.staff_permission_audit') IS NOT NULL THEN
    REVOKE UPDATE, DELETE, TRUNCATE ON TABLE public.staff_permission_audit FROM settings_app;
    REVOKE ALL ON TABLE public.staff_permission_audit FROM settings_auditor;
  END IF;
  -- The default privileges above also reached the knex bookkeeping tables and Debezium's
  -- heartbeat table, which the service never touches: take them back.
  FOREACH t IN ARRAY ARRAY['knex_migrations', 'knex_migrations_lock', 'debezium_heartbeat', 'debezium_signal', 'cdc_gap'] LOOP
    IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
      EXECUTE format('REVOKE ALL ON TABLE public.%I FROM settings_app', t);
    END IF;
  END LOOP;
  FOREACH t IN ARRAY ARRAY['knex_migrations_id_seq', 'knex_migrations_lock_index_seq'] LOOP
    IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
      EXECUTE format('REVOKE ALL ON SEQUENCE public.%I FROM settings_app', t);
    END IF;
  END LOOP;
  -- heartbeat.action.query upserts one row every heartbeat.interval.ms so the slot advances
  -- on a quiet database (INSERT ... ON CONFLICT DO UPDATE needs SELECT, INSERT and UPDATE).
  IF to_regclass('public.debezium_heartbeat') IS NOT NULL THEN
    GRANT SELECT, INSERT, UPDATE ON TABLE public.debezium_heartbeat TO debezium_settings;
  END IF;
  -- CDC gap heal (docs/operations.md#replication-slot-lost-or-recreated): the connector reads its
  -- signal table (incremental snapshots write watermark rows into it: INSERT); the heal command,
  -- run with the replication role's credentials, records gaps and inserts the snapshot signal.
  IF to_regclass('public.debezium_signal') IS NOT NULL THEN
    GRANT SELECT, INSERT ON TABLE public.debezium_signal TO debezium_settings;
  END IF;
  IF to_regclass('public.cdc_gap') IS NOT NULL THEN
    GRANT SELECT, INSERT, UPDATE ON TABLE public.cdc_gap TO debezium_settings;
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Publication settings_cache_pub: exactly the connector's table.include.list
-- (deploy/debezium/settings-connector.json; a unit test keeps both lists equal), created by
-- the DBA so the replication user needs no ownership. The connector runs with
-- publication.autocreate.mode=filtered: it uses an existing publication whose table set
-- matches, and otherwise tries CREATE/ALTER PUBLICATION, which fails for lack of ownership:
-- a loud error instead of a table silently missing from the stream (see deploy/debezium/README.md).
-- publish includes truncate: the invalidator turns a TRUNCATE into a generation bump.
DO $$
DECLARE
  published text[] := ARRAY[
    'account_settings', 'doctor_settings', 'staff_permissions', 'staff_permission_lists',
    'onpatient_settings', 'debezium_heartbeat', 'debezium_signal'
  ];
  missing text[];
  list text;
BEGIN
  SELECT array_agg(t) INTO missing FROM unnest(published) AS t WHERE to_regclass(format('public.%I', t)) IS NULL;
  IF missing IS NOT NULL THEN
    RAISE NOTICE 'publication settings_cache_pub not created/updated: tables % do not exist yet; run this file again after the migrations', missing;
    RETURN;
  END IF;
  SELECT string_agg(format('public.%I', t), ', ') INTO list FROM unnest(published) AS t;
  IF NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'settings_cache_pub') THEN
    EXECUTE format('CREATE PUBLICATION settings_cache_pub FOR TABLE %s WITH (publish = %L)', list, 'insert, update, delete, truncate');
  ELSE
    EXECUTE format('ALTER PUBLICATION settings_cache_pub SET TABLE %s', list);
    EXECUTE format('ALTER PUBLICATION settings_cache_pub SET (publish = %L)', 'insert, update, delete, truncate');
  END IF;
  -- Debezium reads each published table's columns and replica identity at start.
  FOREACH list IN ARRAY published LOOP
    EXECUTE format('GRANT SELECT ON TABLE public.%I TO debezium_settings', list);
  END LOOP;
END
$$;
