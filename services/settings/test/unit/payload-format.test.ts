import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileRegistry, fromBinary, type DescMessage, type Registry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { PAYLOAD_FORMATS, SETTINGS_TABLES, type KeySpace } from '@settings/shared';
import { accountSettings } from '../../src/resources/account-settings/account-settings';
import { doctorSettings } from '../../src/resources/doctor-settings/doctor-settings';
import { onPatientSettings } from '../../src/resources/onpatient-settings/onpatient-settings';
import { staffPermission } from '../../src/resources/staff-permissions/staff-permission';

/**
 * A cache entry's payload is the encoded message of its key space, built from the row through
 * the resource's field specs. When either changes, entries filled by the previous release have
 * another shape, and the release must bump the table's payloadFormat (settings-tables.ts) so it
 * never serves them (cache/payload-generation.ts). This test notices the change: it fingerprints
 * each space's message (every field, recursively through message fields) and its column
 * mapping, and compares with the fingerprint recorded for the current format.
 *
 * When it fails: bump `payloadFormat` of that table in packages/shared/src/resources/settings-tables.ts
 * and record the new format and the fingerprint the failure prints below. A change of what a
 * column's value becomes (a normalisation in row-mapping.ts) is not seen here: bump by hand.
 */
const RECORDED: Record<KeySpace, { readonly format: number; readonly fingerprint: string }> = {
  'account-settings': { format: 0, fingerprint: '0c1e0ff4b6a5accf' },
  'doctor-settings': { format: 0, fingerprint: 'e1f6c0aadde22411' },
  'staff-permission': { format: 0, fingerprint: 'b06c98aa2af9cbb9' },
  'staff-permission-list': { format: 0, fingerprint: '6d7c2fb301f3b8e8' },
  'onpatient-settings': { format: 0, fingerprint: '5ab2bb958e145cf4' },
};

/** The message each space's entries hold, and the resource whose field specs fill it. */
const PAYLOADS: Record<KeySpace, { readonly message: string; readonly columns: ReadonlyArray<{ readonly path: string; readonly column: string }> }> = {
  'account-settings': { message: 'settings.v1.AccountSettings', columns: accountSettings.fields },
  'doctor-settings': { message: 'settings.v1.DoctorSettings', columns: doctorSettings.fields },
  'staff-permission': { message: 'settings.v1.StaffPermission', columns: staffPermission.fields },
  // staff-list-source.ts: a whole grant list, encoded as one ListStaffPermissionsResponse.
  'staff-permission-list': { message: 'settings.v1.ListStaffPermissionsResponse', columns: staffPermission.fields },
  'onpatient-settings': { message: 'settings.v1.OnPatientSettings', columns: onPatientSettings.fields },
};

const registry: Registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(join(__dirname, '../../../../proto/reflection-descriptors.binpb'))));

/** Every field of `message` and of the messages its fields hold: number, name, type, cardinality. */
function shape(message: DescMessage, seen = new Set<string>()): string[] {
  if (seen.has(message.typeName)) return [`${message.typeName} (again)`];
  seen.add(message.typeName);
  const lines: string[] = [];
  for (const f of [...message.fields].sort((a, b) => a.number - b.number)) {
    const p = f.proto;
    lines.push(`${message.typeName} ${p.number} ${p.name} type=${p.type} label=${p.label} of=${p.typeName} oneof=${f.oneof?.name ?? '-'} optional=${p.proto3Optional}`);
    const nested = f.fieldKind === 'message' ? f.message : f.fieldKind === 'list' && f.listKind === 'message' ? f.message : f.fieldKind === 'map' && f.mapKind === 'message' ? f.message : undefined;
    if (nested) lines.push(...shape(nested, seen));
  }
  return lines;
}

/** The text a fingerprint hashes: the message's shape, then the column of each writable field. */
function shapeText(space: KeySpace): string {
  const payload = PAYLOADS[space];
  const message = registry.getMessage(payload.message);
  if (!message) throw new Error(`${payload.message} is not in proto/reflection-descriptors.binpb (npm run generate)`);
  return [...shape(message), ...payload.columns.map((c) => `${c.path} <- ${c.column}`)].join('\n');
}

function fingerprint(space: KeySpace): string {
  return createHash('sha256').update(shapeText(space)).digest('hex').slice(0, 16);
}

describe('payload formats', () => {
  it('see nested messages and columns (a changed sub-message or column changes the fingerprint)', () => {
    const text = shapeText('account-settings');
    expect(text).toContain('settings.v1.AppointmentDefaults 1 default_duration_minutes');
    expect(text).toContain('google.protobuf.Timestamp 1 seconds');
    expect(text).toContain('appointment_defaults.default_duration_minutes <- appointment_default_duration_minutes');
    expect(shapeText('staff-permission-list')).toContain('settings.v1.StaffPermission 1 name');
  });

  it('cover every key space', () => {
    expect(Object.keys(RECORDED).sort()).toEqual(SETTINGS_TABLES.map((t) => t.space).sort());
    expect(Object.keys(PAYLOADS).sort()).toEqual(SETTINGS_TABLES.map((t) => t.space).sort());
  });

  it.each(SETTINGS_TABLES.map((t) => [t.space, t.table] as const))('%s: its payload has the shape recorded for its payloadFormat (else bump it in settings-tables.ts)', (space, table) => {
    const now = fingerprint(space);
    const recorded = RECORDED[space];
    if (PAYLOAD_FORMATS[space] !== recorded.format || now !== recorded.fingerprint) {
      throw new Error(
        `the cached payload of ${space} (${PAYLOADS[space].message}, columns of ${table}) has fingerprint ${now}; recorded: ${recorded.fingerprint} for format ${recorded.format}, ` +
          `and ${table} declares payloadFormat ${PAYLOAD_FORMATS[space]}. If the message or its columns changed, set payloadFormat: ${recorded.format + 1} in ` +
          `packages/shared/src/resources/settings-tables.ts and record { format: ${recorded.format + 1}, fingerprint: '${now}' } here, so no release serves entries of the other shape.`,
      );
    }
  });
});
