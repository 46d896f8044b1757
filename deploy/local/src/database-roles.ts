import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localDatabaseRoles, localStack } from '@settings/shared';
import { pgQuery } from './postgres';
import { repoRoot } from './state-dir';

/**
 * The DBA's bootstrap (deploy/postgres/bootstrap.sql: roles, grants, default privileges, the
 * publication), applied by `up` exactly as documented, so every local run — and every
 * `npm test` — exercises the grants production gets. Idempotent; run before the migrations
 * (roles) and after them (grants on new tables, the publication).
 */
export async function applyDatabaseBootstrap(): Promise<void> {
  const sql = readFileSync(join(repoRoot, 'deploy/postgres/bootstrap.sql'), 'utf8');
  await pgQuery(localStack.database, sql);
}

/**
 * Stacks created before the roles existed have their schema objects owned by the superuser,
 * which would leave the owner role unable to migrate them: hand tables (with their owned
 * sequences), free-standing sequences and functions of schema public to the owner role. A
 * no-op on a stack whose migrations already ran as that role (every fresh clone).
 */
const ADOPT_SCHEMA_OBJECTS = `
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S') AND pg_get_userbyid(c.relowner) <> '${localDatabaseRoles.owner}'
      -- A sequence owned by a column moves with its table.
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s public.%I OWNER TO ${localDatabaseRoles.owner}', CASE r.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.relname);
  END LOOP;
  FOR r IN
    SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> '${localDatabaseRoles.owner}'
  LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO ${localDatabaseRoles.owner}', r.sig);
  END LOOP;
END
$$`;

export async function adoptSchemaObjectsForOwnerRole(): Promise<void> {
  await pgQuery(localStack.database, ADOPT_SCHEMA_OBJECTS);
}
