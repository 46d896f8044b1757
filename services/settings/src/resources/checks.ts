/**
 * Value checks shared by the resources. Ranges repeat the database CHECK constraints exactly
 * (packages/settings-db migrations), so a constraint violation never has to be the first line
 * of defence; some checks are stricter (e.g. real time zones) where the database cannot know.
 */
import { IANA_TIME_ZONE_NAMES } from './iana-time-zone-names';

export type Check = (value: unknown) => string | undefined;

const chars = (s: string): number => [...s].length;

/** PostgreSQL text cannot hold NUL; rejecting it here keeps error 22021 from ever happening. */
function textProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  return undefined;
}

export const checks = {
  text(maxChars: number): Check {
    return (v) => textProblem(v) ?? (chars(v as string) > maxChars ? `at most ${maxChars} characters` : undefined);
  },
  intRange(min: number, max: number, extra?: { also: number }): Check {
    return (v) => {
      if (typeof v !== 'number' || !Number.isInteger(v)) return 'must be an integer';
      if (extra && v === extra.also) return undefined;
      return v < min || v > max ? `must be between ${min} and ${max}${extra ? ` (or ${extra.also})` : ''}` : undefined;
    };
  },
  intOneOf(allowed: readonly number[]): Check {
    return (v) => (typeof v === 'number' && allowed.includes(v) ? undefined : `must be one of ${allowed.join(', ')}`);
  },
  bool(): Check {
    return (v) => (typeof v === 'boolean' ? undefined : 'must be a boolean');
  },
  /** E.164 or empty, as the database CHECK `^([+][1-9][0-9]{1,14}){0,1}$`. */
  phoneOrEmpty(): Check {
    return (v) => textProblem(v) ?? (/^(\+[1-9][0-9]{1,14})?$/.test(v as string) ? undefined : 'must be E.164 (e.g. +14155550100) or empty');
  },
  emailOrEmpty(): Check {
    return (v) => {
      const p = textProblem(v);
      if (p) return p;
      const s = v as string;
      if (chars(s) > 254) return 'at most 254 characters';
      return s === '' || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s) ? undefined : 'must be an e-mail address or empty';
    };
  },
  timeZone(): Check {
    return (v) => (typeof v === 'string' && isTimeZone(v) ? undefined : 'must be an IANA time zone, e.g. America/New_York');
  },
  locale(): Check {
    return (v) => (typeof v === 'string' && canonicalLocale(v) !== undefined ? undefined : 'must be a BCP-47 language tag, e.g. en-US');
  },
  currency(): Check {
    return (v) => (typeof v === 'string' && /^[A-Z]{3}$/.test(v) && CURRENCIES.has(v) ? undefined : 'must be an ISO 4217 currency code, e.g. USD');
  },
  /** Empty or exactly ten digits, as the database CHECK. */
  npiOrEmpty(): Check {
    return (v) => textProblem(v) ?? (/^([0-9]{10})?$/.test(v as string) ? undefined : 'must be 10 digits or empty');
  },
};

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** Every part of an IANA zone name starts with a capital (`America/Port-au-Prince`, `Etc/GMT+5`). */
const IANA_SHAPE = /^[A-Z][^/]*(\/[A-Z][^/]*)*$/;

/** IANA's own spelling of each zone and link name, by its lower-case form. */
const IANA_SPELLING = new Map(IANA_TIME_ZONE_NAMES.map((name) => [name.toLowerCase(), name]));
/** The areas of the IANA names (`America`, `Etc`, `US`…): a zone newer than the list is in one of them. */
const IANA_AREAS = new Set(IANA_TIME_ZONE_NAMES.filter((name) => name.includes('/')).map((name) => name.split('/')[0]!));

/**
 * A time zone name ICU knows (the IANA database with its links), as IANA spells it.
 * Not `Intl.supportedValuesOf('timeZone')`: it lists one spelling per zone, CLDR's, often the
 * legacy one (`Asia/Calcutta`, `Europe/Kiev`), so current IANA names (`Asia/Kolkata`,
 * `Europe/Kyiv`, `Etc/UTC`) were refused. Offsets (`+05:30`) are not IANA names: newer V8
 * accepts them as time zones, Node 20 does not, so they are refused here either way. ICU
 * matches names without regard to case, the IANA database and its readers (zoneinfo files on a
 * case-sensitive file system, Java's ZoneId) do not: `utc`, `asia/kolkata` or `US/PACIFIC`
 * would be stored and then refused by a consumer, so a spelling other than IANA's is refused.
 * ICU answers a link with its target (`US/Pacific` → `America/Los_Angeles`), so it cannot tell
 * a link's right spelling: that comes from the database's own list (iana-time-zone-names.ts),
 * and only a name newer than the list must be ICU's own spelling of a zone in an IANA area.
 */
export function isTimeZone(value: string): boolean {
  if (value.length > 64 || !IANA_SHAPE.test(value)) return false;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return false;
  }
  const iana = IANA_SPELLING.get(value.toLowerCase());
  // Not listed: ICU's own name of a zone in an IANA area (ICU also knows ids IANA never had,
  // such as SystemV/EST5, which readers of the database refuse).
  return iana !== undefined ? iana === value : resolved === value && IANA_AREAS.has(value.split('/')[0]!) && value.includes('/');
}

/** The canonical spelling (e.g. `en-us` -> `en-US`), or undefined for an invalid tag. */
export function canonicalLocale(value: string): string | undefined {
  if (value === '' || value.length > 64 || value.includes('\u0000')) return undefined;
  try {
    const [canonical] = Intl.getCanonicalLocales(value);
    return canonical;
  } catch {
    return undefined;
  }
}
