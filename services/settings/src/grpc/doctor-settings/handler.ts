import {
  DoctorSettings,
  type BatchGetDoctorSettingsRequest,
  type BatchGetDoctorSettingsResponse,
  type GetDoctorSettingsRequest,
  type SettingsServiceServer,
  type UpdateDoctorSettingsRequest,
} from '@settings/api';
import { cacheKeys } from '@settings/shared';
import type { ReadSource, ReadThrough } from '../../cache/read-through';
import { doctorKey, type DoctorSettingsRepo } from '../../db/doctor-settings-repo';
import { parsers, type DoctorRef } from '../common/names';
import { batchGetResources, getResource, parseUpdate, type Resource } from '../common/resource-methods';
import type { Unary } from '../unary';
import { doctorSettingsFields } from './validate';

export function doctorSettingsSource(repo: DoctorSettingsRepo): ReadSource<DoctorRef, DoctorSettings> {
  const cacheKey = (r: DoctorRef) => cacheKeys.doctorSettings(r.accountId, r.doctorId);
  return {
    space: 'doctor-settings',
    cacheKey,
    encode: (m) => DoctorSettings.encode(m).finish(),
    decode: (b) => DoctorSettings.decode(b),
    async load(refs, deadline) {
      const rows = await repo.load(refs, deadline);
      const out = new Map<string, NonNullable<ReturnType<typeof rows.get>>>();
      for (const r of refs) {
        const loaded = rows.get(doctorKey(r));
        if (loaded) out.set(cacheKey(r).key, loaded);
      }
      return out;
    },
  };
}

type Methods = Pick<SettingsServiceServer, 'getDoctorSettings' | 'batchGetDoctorSettings' | 'updateDoctorSettings'>;

export function doctorSettingsMethods(unary: Unary, readThrough: ReadThrough, repo: DoctorSettingsRepo): Methods {
  const resource: Resource<DoctorRef, DoctorSettings> = { parser: parsers.doctorSettings, source: doctorSettingsSource(repo) };
  return {
    getDoctorSettings: unary('GetDoctorSettings', 'read', (req: GetDoctorSettingsRequest, ctx) => getResource(readThrough, resource, req, ctx)),
    batchGetDoctorSettings: unary(
      'BatchGetDoctorSettings',
      'read',
      async (req: BatchGetDoctorSettingsRequest, ctx): Promise<BatchGetDoctorSettingsResponse> => ({
        doctorSettings: await batchGetResources(readThrough, resource, req, ctx),
      }),
    ),
    updateDoctorSettings: unary('UpdateDoctorSettings', 'write', async (req: UpdateDoctorSettingsRequest, ctx) => {
      const u = parseUpdate(parsers.doctorSettings, doctorSettingsFields, { field: 'doctor_settings', message: req.doctorSettings, mask: req.updateMask }, ctx);
      return repo.update({ ref: u.ref, changes: u.changes, etag: u.etag, allowMissing: req.allowMissing }, ctx.deadline);
    }),
  };
}
