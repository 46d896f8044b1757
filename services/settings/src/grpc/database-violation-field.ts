import { accountSettings } from '../resources/account-settings/account-settings';
import { doctorSettings } from '../resources/doctor-settings/doctor-settings';
import { onPatientSettings } from '../resources/onpatient-settings/onpatient-settings';
import { staffPermission } from '../resources/staff-permissions/staff-permission';
import { protoFieldPath } from './proto-field-path';

/**
 * The request field a value PostgreSQL refused came from, for the BadRequest violation of a
 * check or not-null violation that validation did not catch first (a migration's CHECK ahead of
 * checks.ts): `onpatient_settings.welcome_message`, never the constraint's or the table's name,
 * which mean nothing to a caller. PostgreSQL names a column's CHECK `<table>_<column>_check`
 * (with a number when the name is taken) and reports the column of a not-null violation; a
 * constraint named otherwise is reported on the resource's field as a whole.
 */
const BY_TABLE = new Map(
  [accountSettings, doctorSettings, onPatientSettings, staffPermission].map((r) => [
    r.table.table,
    { field: protoFieldPath(r.proto.field), pathOf: new Map(r.fields.map((f) => [f.column, f.path] as const)) },
  ]),
);

export function databaseViolationField(table: unknown, column: unknown, constraint: unknown): string {
  const resource = typeof table === 'string' ? BY_TABLE.get(table) : undefined;
  if (!resource) return 'request';
  let refused = typeof column === 'string' ? column : undefined;
  if (refused === undefined && typeof constraint === 'string') {
    const m = /^(.*)_check\d*$/.exec(constraint);
    if (m && m[1]!.startsWith(`${table as string}_`)) refused = m[1]!.slice((table as string).length + 1);
  }
  const path = refused === undefined ? undefined : resource.pathOf.get(refused);
  return path === undefined ? resource.field : `${resource.field}.${path}`;
}
