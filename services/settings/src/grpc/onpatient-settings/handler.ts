import {
  OnPatientSettings,
  type BatchGetOnPatientSettingsRequest,
  type BatchGetOnPatientSettingsResponse,
  type GetOnPatientSettingsRequest,
  type SettingsServiceServer,
  type UpdateOnPatientSettingsRequest,
} from '@settings/api';
import { cacheKeys } from '@settings/shared';
import type { ReadSource, ReadThrough } from '../../cache/read-through';
import type { OnPatientSettingsRepo } from '../../db/onpatient-settings-repo';
import { parsers, type AccountRef } from '../common/names';
import { batchGetResources, getResource, parseUpdate, type Resource } from '../common/resource-methods';
import type { Unary } from '../unary';
import { onPatientSettingsFields } from './validate';

export function onPatientSettingsSource(repo: OnPatientSettingsRepo): ReadSource<AccountRef, OnPatientSettings> {
  return {
    space: 'onpatient-settings',
    cacheKey: (r) => cacheKeys.onPatientSettings(r.accountId),
    encode: (m) => OnPatientSettings.encode(m).finish(),
    decode: (b) => OnPatientSettings.decode(b),
    async load(refs, deadline) {
      const rows = await repo.load(
        refs.map((r) => r.accountId),
        deadline,
      );
      return new Map([...rows].map(([accountId, loaded]) => [cacheKeys.onPatientSettings(accountId).key, loaded]));
    },
  };
}

type Methods = Pick<SettingsServiceServer, 'getOnPatientSettings' | 'batchGetOnPatientSettings' | 'updateOnPatientSettings'>;

export function onPatientSettingsMethods(unary: Unary, readThrough: ReadThrough, repo: OnPatientSettingsRepo): Methods {
  const resource: Resource<AccountRef, OnPatientSettings> = { parser: parsers.onPatientSettings, source: onPatientSettingsSource(repo) };
  return {
    getOnPatientSettings: unary('GetOnPatientSettings', 'read', (req: GetOnPatientSettingsRequest, ctx) => getResource(readThrough, resource, req, ctx)),
    batchGetOnPatientSettings: unary(
      'BatchGetOnPatientSettings',
      'read',
      async (req: BatchGetOnPatientSettingsRequest, ctx): Promise<BatchGetOnPatientSettingsResponse> => ({
        onpatientSettings: await batchGetResources(readThrough, resource, req, ctx),
      }),
    ),
    updateOnPatientSettings: unary('UpdateOnPatientSettings', 'write', async (req: UpdateOnPatientSettingsRequest, ctx) => {
      const u = parseUpdate(parsers.onPatientSettings, onPatientSettingsFields, { field: 'onpatient_settings', message: req.onpatientSettings, mask: req.updateMask }, ctx);
      return repo.update({ accountId: u.ref.accountId, changes: u.changes, etag: u.etag, allowMissing: req.allowMissing }, ctx.deadline);
    }),
  };
}
