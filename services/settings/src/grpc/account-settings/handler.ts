import {
  AccountSettings,
  type BatchGetAccountSettingsRequest,
  type BatchGetAccountSettingsResponse,
  type GetAccountSettingsRequest,
  type SettingsServiceServer,
  type UpdateAccountSettingsRequest,
} from '@settings/api';
import { cacheKeys } from '@settings/shared';
import type { ReadSource, ReadThrough } from '../../cache/read-through';
import type { AccountSettingsRepo } from '../../db/account-settings-repo';
import { parsers, type AccountRef } from '../common/names';
import { batchGetResources, getResource, parseUpdate, type Resource } from '../common/resource-methods';
import type { Unary } from '../unary';
import { accountSettingsFields } from './validate';

export function accountSettingsSource(repo: AccountSettingsRepo): ReadSource<AccountRef, AccountSettings> {
  return {
    space: 'account-settings',
    cacheKey: (r) => cacheKeys.accountSettings(r.accountId),
    encode: (m) => AccountSettings.encode(m).finish(),
    decode: (b) => AccountSettings.decode(b),
    async load(refs, deadline) {
      const rows = await repo.load(
        refs.map((r) => r.accountId),
        deadline,
      );
      return new Map([...rows].map(([accountId, loaded]) => [cacheKeys.accountSettings(accountId).key, loaded]));
    },
  };
}

type Methods = Pick<SettingsServiceServer, 'getAccountSettings' | 'batchGetAccountSettings' | 'updateAccountSettings'>;

export function accountSettingsMethods(unary: Unary, readThrough: ReadThrough, repo: AccountSettingsRepo): Methods {
  const resource: Resource<AccountRef, AccountSettings> = { parser: parsers.accountSettings, source: accountSettingsSource(repo) };
  return {
    getAccountSettings: unary('GetAccountSettings', 'read', (req: GetAccountSettingsRequest, ctx) => getResource(readThrough, resource, req, ctx)),
    batchGetAccountSettings: unary(
      'BatchGetAccountSettings',
      'read',
      async (req: BatchGetAccountSettingsRequest, ctx): Promise<BatchGetAccountSettingsResponse> => ({
        accountSettings: await batchGetResources(readThrough, resource, req, ctx),
      }),
    ),
    updateAccountSettings: unary('UpdateAccountSettings', 'write', async (req: UpdateAccountSettingsRequest, ctx) => {
      const u = parseUpdate(parsers.accountSettings, accountSettingsFields, { field: 'account_settings', message: req.accountSettings, mask: req.updateMask }, ctx);
      return repo.update({ accountId: u.ref.accountId, changes: u.changes, etag: u.etag, allowMissing: req.allowMissing }, ctx.deadline);
    }),
  };
}
