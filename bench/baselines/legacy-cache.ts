/**
 * The caches the incident replay compares against: a plain read-through cache as the settings
 * screens had it before 2021-09-23, and the hotfix that followed. They live here, in the
 * benchmark, and never in the services.
 *
 *  - `ttl-only`            GET; on a miss SELECT, SET EX 300. Writes never touch the cache, so
 *                          a change shows up when the entry expires (the "5 minutes" of the
 *                          incident report).
 *  - `delete-on-write`     the same, plus DEL of the row's key after each save from app code.
 *  - `clear-all-on-write`  the hotfix as described: the whole cache is cleared after every
 *                          account update. Implemented as SCAN over this baseline's own key
 *                          prefix + UNLINK, in the benchmark's own Redis db (never FLUSH).
 *
 * Entries are the same protobuf bytes the settings service returns for the row (same payload
 * size), so Redis and the network carry the same amount per read.
 */
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { AccountSettings } from '@settings/api';

export type LegacyStrategy = 'ttl-only' | 'delete-on-write' | 'clear-all-on-write';
export const LEGACY_STRATEGIES: readonly LegacyStrategy[] = ['ttl-only', 'delete-on-write', 'clear-all-on-write'];

export interface LegacyCounters {
  reads: number;
  hits: number;
  misses: number;
  saves: number;
  clears: number;
  /** Commands this app sent to Redis (a multi-key UNLINK counts once, as Redis counts it). */
  redisCommands: number;
  /** Keys this app deleted. */
  keysDeleted: number;
  /** Statements this app ran on PostgreSQL. */
  pgQueries: number;
}

interface Row {
  account_id: string;
  display_name: string;
  time_zone: string;
  locale: string;
  contact_phone_number: string;
  contact_email: string;
  appointment_default_duration_minutes: number;
  appointment_slot_granularity_minutes: number;
  appointment_allow_double_booking: boolean;
  notification_email_reminders_enabled: boolean;
  notification_sms_reminders_enabled: boolean;
  notification_reminder_lead_hours: number;
  billing_currency_code: string;
  billing_group_npi: string;
  billing_patient_statements_enabled: boolean;
  billing_statement_due_days: number;
  version: string;
  update_time: Date;
}

/** The same message the settings service builds from a row (etag = version; token = base64url("v1:<version>")). */
export function encodeRow(r: Row): Buffer {
  return Buffer.from(
    AccountSettings.encode(
      AccountSettings.fromPartial({
        name: `accounts/${r.account_id}/settings`,
        displayName: r.display_name,
        timeZone: r.time_zone,
        locale: r.locale,
        contactPhoneNumber: r.contact_phone_number,
        contactEmail: r.contact_email,
        appointmentDefaults: {
          defaultDurationMinutes: r.appointment_default_duration_minutes,
          slotGranularityMinutes: r.appointment_slot_granularity_minutes,
          allowDoubleBooking: r.appointment_allow_double_booking,
        },
        notificationPreferences: {
          emailRemindersEnabled: r.notification_email_reminders_enabled,
          smsRemindersEnabled: r.notification_sms_reminders_enabled,
          reminderLeadHours: r.notification_reminder_lead_hours,
        },
        billing: {
          currencyCode: r.billing_currency_code,
          groupNpi: r.billing_group_npi,
          patientStatementsEnabled: r.billing_patient_statements_enabled,
          statementDueDays: r.billing_statement_due_days,
        },
        updateTime: r.update_time,
        etag: String(r.version),
        consistencyToken: Buffer.from(`v1:${r.version}`, 'latin1').toString('base64url'),
      }),
    ).finish(),
  );
}

export interface LegacyOptions {
  pool: Pool;
  /** A client on the benchmark's own Redis db. */
  redis: Redis;
  /** Every key of this cache starts with it (the clear-all variant deletes exactly these). */
  keyPrefix: string;
  ttlSeconds: number;
  strategy: LegacyStrategy;
}

export class LegacySettingsCache {
  readonly counters: LegacyCounters = { reads: 0, hits: 0, misses: 0, saves: 0, clears: 0, redisCommands: 0, keysDeleted: 0, pgQueries: 0 };

  constructor(private readonly o: LegacyOptions) {}

  key(accountId: string): string {
    return `${this.o.keyPrefix}acct:${accountId}`;
  }

  /** Encoded AccountSettings, or undefined when the account has none. */
  async get(accountId: string): Promise<Buffer | undefined> {
    const c = this.counters;
    c.reads++;
    const key = this.key(accountId);
    c.redisCommands++;
    const cached = await this.o.redis.getBuffer(key);
    if (cached) {
      c.hits++;
      return cached;
    }
    c.misses++;
    c.pgQueries++;
    const { rows } = await this.o.pool.query<Row>('SELECT *, version::text AS version FROM account_settings WHERE account_id = $1', [accountId]);
    if (rows.length === 0) return undefined;
    const payload = encodeRow(rows[0]!);
    c.redisCommands++;
    await this.o.redis.set(key, payload, 'EX', this.o.ttlSeconds);
    return payload;
  }

  async save(accountId: string, displayName: string): Promise<Buffer | undefined> {
    const c = this.counters;
    c.saves++;
    c.pgQueries++;
    const { rows } = await this.o.pool.query<Row>('UPDATE account_settings SET display_name = $2 WHERE account_id = $1 RETURNING *, version::text AS version', [accountId, displayName]);
    if (rows.length === 0) return undefined;
    await this.afterWrite([accountId]);
    return encodeRow(rows[0]!);
  }

  /** One UPDATE over every account matching a LIKE pattern (a backfill run from app code). */
  async bulkSave(likePattern: string, displayName: string): Promise<{ rows: Array<[string, string]>; committedAt: number }> {
    this.counters.pgQueries++;
    const { rows } = await this.o.pool.query<{ account_id: string; version: string }>(
      'UPDATE account_settings SET display_name = $2 WHERE account_id LIKE $1 RETURNING account_id, version::text AS version',
      [likePattern, displayName],
    );
    const committedAt = Date.now();
    await this.afterWrite(rows.map((r) => r.account_id));
    return { rows: rows.map((r) => [r.account_id, r.version]), committedAt };
  }

  private async afterWrite(accountIds: string[]): Promise<void> {
    const c = this.counters;
    if (this.o.strategy === 'delete-on-write') {
      for (let i = 0; i < accountIds.length; i += 1000) {
        const keys = accountIds.slice(i, i + 1000).map((a) => this.key(a));
        c.redisCommands++;
        c.keysDeleted += await this.o.redis.unlink(...keys);
      }
    } else if (this.o.strategy === 'clear-all-on-write') {
      await this.clearAll();
    }
  }

  /** Deletes every key of this cache's own prefix (SCAN + UNLINK; no FLUSH, other keys untouched). */
  async clearAll(): Promise<void> {
    const c = this.counters;
    c.clears++;
    let cursor = '0';
    do {
      c.redisCommands++;
      const [next, keys] = await this.o.redis.scan(cursor, 'MATCH', `${globEscape(this.o.keyPrefix)}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        c.redisCommands++;
        c.keysDeleted += await this.o.redis.unlink(...keys);
      }
    } while (cursor !== '0');
  }
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\{}]/g, (ch) => `\\${ch}`);
}
