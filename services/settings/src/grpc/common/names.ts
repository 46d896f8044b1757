import type { Violations } from '../../errors';

/**
 * Resource names (AIP-122). Segments use the key map's id pattern, so a parsed id can never
 * forge a cache key or another tenant's name.
 */
const ID = '([a-z0-9][a-z0-9_-]{0,62})';
const ACCOUNT = new RegExp(`^accounts/${ID}$`);
const ACCOUNT_SETTINGS = new RegExp(`^accounts/${ID}/settings$`);
const DOCTOR_SETTINGS = new RegExp(`^accounts/${ID}/doctors/${ID}/settings$`);
const ONPATIENT_SETTINGS = new RegExp(`^accounts/${ID}/onpatientSettings$`);
const STAFF_PERMISSION = new RegExp(`^accounts/${ID}/staffPermissions/${ID}$`);

export interface AccountRef {
  readonly accountId: string;
}
export interface DoctorRef extends AccountRef {
  readonly doctorId: string;
}
export interface StaffRef extends AccountRef {
  readonly staffId: string;
}

export const names = {
  account: (a: string): string => `accounts/${a}`,
  accountSettings: (a: string): string => `accounts/${a}/settings`,
  doctorSettings: (a: string, d: string): string => `accounts/${a}/doctors/${d}/settings`,
  onPatientSettings: (a: string): string => `accounts/${a}/onpatientSettings`,
  staffPermission: (a: string, s: string): string => `accounts/${a}/staffPermissions/${s}`,
};

export interface NameParser<R> {
  /** The pattern, for error messages. */
  readonly form: string;
  parse(name: string): R | undefined;
}

export const parsers = {
  account: { form: 'accounts/{account}', parse: (n: string) => match(ACCOUNT, n, ([a]) => ({ accountId: a! })) } as NameParser<AccountRef>,
  accountSettings: { form: 'accounts/{account}/settings', parse: (n: string) => match(ACCOUNT_SETTINGS, n, ([a]) => ({ accountId: a! })) } as NameParser<AccountRef>,
  doctorSettings: {
    form: 'accounts/{account}/doctors/{doctor}/settings',
    parse: (n: string) => match(DOCTOR_SETTINGS, n, ([a, d]) => ({ accountId: a!, doctorId: d! })),
  } as NameParser<DoctorRef>,
  onPatientSettings: { form: 'accounts/{account}/onpatientSettings', parse: (n: string) => match(ONPATIENT_SETTINGS, n, ([a]) => ({ accountId: a! })) } as NameParser<AccountRef>,
  staffPermission: {
    form: 'accounts/{account}/staffPermissions/{staff}',
    parse: (n: string) => match(STAFF_PERMISSION, n, ([a, s]) => ({ accountId: a!, staffId: s! })),
  } as NameParser<StaffRef>,
};

function match<R>(re: RegExp, name: string, build: (groups: string[]) => R): R | undefined {
  const m = re.exec(name);
  return m ? build(m.slice(1)) : undefined;
}

/** Parses `value`, recording a violation on `field` when it is empty or malformed. */
export function parseName<R>(parser: NameParser<R>, value: string, field: string, violations: Violations): R | undefined {
  if (value === '') {
    violations.add(field, `required: ${parser.form}`);
    return undefined;
  }
  const parsed = parser.parse(value);
  if (!parsed) violations.add(field, `must be ${parser.form}, ids matching ^[a-z0-9][a-z0-9_-]{0,62}$`);
  return parsed;
}
