import { escapeLike, type HarnessDb } from './db';

/**
 * The bounded set of settings one scenario works on: for each account `<prefix>-<i>` its
 * account settings and the settings of doctors `d0..d<n-1>`. The prefix is unique per run and
 * scenario, so scenarios never share a key (a stale entry left by one cannot fail the next)
 * and nothing of other engineers' data is touched.
 */
export type KeyKind = 'account' | 'doctor';

export interface SettingsKey {
  kind: KeyKind;
  accountId: string;
  doctorId?: string;
  /** The resource name, also the key's id in results: `accounts/a/settings`, `accounts/a/doctors/d/settings`. */
  name: string;
}

/** What a reader can observe of one key: its version and one content field. */
export interface Observed {
  version: string;
  displayName: string;
}

export function keySet(prefix: string, accounts: number, doctorsPerAccount: number): SettingsKey[] {
  const keys: SettingsKey[] = [];
  for (let i = 0; i < accounts; i++) {
    const accountId = `${prefix}-${i}`;
    keys.push({ kind: 'account', accountId, name: `accounts/${accountId}/settings` });
    for (let d = 0; d < doctorsPerAccount; d++) {
      const doctorId = `d${d}`;
      keys.push({ kind: 'doctor', accountId, doctorId, name: `accounts/${accountId}/doctors/${doctorId}/settings` });
    }
  }
  return keys;
}

/** Creates every row of the key set (idempotent). The version trigger numbers them. */
export async function seedRows(db: HarnessDb, keys: readonly SettingsKey[]): Promise<void> {
  const accounts = keys.filter((k) => k.kind === 'account').map((k) => k.accountId);
  const doctors = keys.filter((k) => k.kind === 'doctor');
  await db.query(
    `INSERT INTO account_settings (account_id, display_name) SELECT a, 'seed' FROM unnest($1::text[]) AS a ON CONFLICT (account_id) DO NOTHING`,
    [accounts],
  );
  await db.query(
    `INSERT INTO doctor_settings (account_id, doctor_id, display_name)
     SELECT a, d, 'seed' FROM unnest($1::text[], $2::text[]) AS t(a, d) ON CONFLICT (account_id, doctor_id) DO NOTHING`,
    [doctors.map((k) => k.accountId), doctors.map((k) => k.doctorId)],
  );
}

/**
 * The psql writer's statement: an UPDATE of the row, or its creation when a delete took it
 * (INSERT … ON CONFLICT DO UPDATE), versioned by the table trigger like any other writer's.
 */
export async function updateRow(db: HarnessDb, key: SettingsKey, displayName: string): Promise<void> {
  if (key.kind === 'account') {
    await db.query(
      'INSERT INTO account_settings (account_id, display_name) VALUES ($1, $2) ON CONFLICT (account_id) DO UPDATE SET display_name = EXCLUDED.display_name',
      [key.accountId, displayName],
    );
  } else {
    await db.query(
      'INSERT INTO doctor_settings (account_id, doctor_id, display_name) VALUES ($1, $2, $3) ON CONFLICT (account_id, doctor_id) DO UPDATE SET display_name = EXCLUDED.display_name',
      [key.accountId, key.doctorId, displayName],
    );
  }
}

/** The psql writer's other statement: the key's row is deleted (the next write creates it again). */
export async function deleteRow(db: HarnessDb, key: SettingsKey): Promise<void> {
  if (key.kind === 'account') await db.query('DELETE FROM account_settings WHERE account_id = $1', [key.accountId]);
  else await db.query('DELETE FROM doctor_settings WHERE account_id = $1 AND doctor_id = $2', [key.accountId, key.doctorId]);
}

/** Every row of the prefix, by resource name: the truth each observation is compared with. */
export async function readRows(db: HarnessDb, prefix: string): Promise<Map<string, Observed>> {
  const like = `${escapeLike(prefix)}-%`;
  const out = new Map<string, Observed>();
  const accounts = await db.query<{ account_id: string; display_name: string; version: string }>(
    'SELECT account_id, display_name, version::text AS version FROM account_settings WHERE account_id LIKE $1',
    [like],
  );
  for (const r of accounts) out.set(`accounts/${r.account_id}/settings`, { version: r.version, displayName: r.display_name });
  const doctors = await db.query<{ account_id: string; doctor_id: string; display_name: string; version: string }>(
    'SELECT account_id, doctor_id, display_name, version::text AS version FROM doctor_settings WHERE account_id LIKE $1',
    [like],
  );
  for (const r of doctors) out.set(`accounts/${r.account_id}/doctors/${r.doctor_id}/settings`, { version: r.version, displayName: r.display_name });
  return out;
}

/** Removes the scenario's rows (never a TRUNCATE: other engineers share the tables). */
export async function deleteRows(db: HarnessDb, prefix: string): Promise<void> {
  const like = `${escapeLike(prefix)}-%`;
  await db.query('DELETE FROM doctor_settings WHERE account_id LIKE $1', [like]);
  await db.query('DELETE FROM account_settings WHERE account_id LIKE $1', [like]);
}

export const sameObservation = (a: Observed | undefined, b: Observed | undefined): boolean =>
  a !== undefined && b !== undefined && a.version === b.version && a.displayName === b.displayName;

/** A Get shows the row: the same version and value, or NOT_FOUND for a row that is not there. */
export const showsRow = (r: { ok: true; value: Observed } | { ok: false; code: string }, row: Observed | undefined): boolean =>
  r.ok ? sameObservation(r.value, row) : r.code === 'NOT_FOUND' && row === undefined;
