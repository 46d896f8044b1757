import {
  ListStaffPermissionsResponse,
  StaffPermission,
  type BatchGetStaffPermissionsRequest,
  type BatchGetStaffPermissionsResponse,
  type GetStaffPermissionRequest,
  type ListStaffPermissionsRequest,
  type SettingsServiceServer,
} from '@settings/api';
import { cacheKeys } from '@settings/shared';
import type { Loaded, ReadSource, ReadThrough } from '../../cache/read-through';
import { parseReadMode } from '../../consistency/read-mode';
import { Violations } from '../../errors';
import { staffKey, type StaffPermissionsRepo } from '../../db/staff-permissions-repo';
import { parseName, parsers, type AccountRef, type StaffRef } from '../common/names';
import { batchGetResources, getResource, type Resource } from '../common/resource-methods';
import type { CallContext, Unary } from '../unary';
import { decodePageToken, DEFAULT_PAGE_SIZE, encodePageToken, MAX_PAGE_SIZE, staffIdOf } from './validate';
import { staffPermissionWriteMethods } from './writes';

export function staffPermissionSource(repo: StaffPermissionsRepo): ReadSource<StaffRef, StaffPermission> {
  const cacheKey = (r: StaffRef) => cacheKeys.staffPermission(r.accountId, r.staffId);
  return {
    space: 'staff-permission',
    cacheKey,
    encode: (m) => StaffPermission.encode(m).finish(),
    decode: (b) => StaffPermission.decode(b),
    async load(refs, deadline) {
      const rows = await repo.load(refs, deadline);
      const out = new Map<string, NonNullable<ReturnType<typeof rows.get>>>();
      for (const r of refs) {
        const loaded = rows.get(staffKey(r));
        if (loaded) out.set(cacheKey(r).key, loaded);
      }
      return out;
    },
  };
}

/** A whole grant list (ordered by staff id), cached as one entry at the account's list version. */
export interface CachedStaffList {
  readonly items: readonly StaffPermission[];
  /** True when the account has more grants than the cache cap; then pages come from PostgreSQL. */
  readonly truncated: boolean;
}

export function staffListSource(repo: StaffPermissionsRepo, cacheMaxRows: number): ReadSource<AccountRef, CachedStaffList> {
  return {
    space: 'staff-permission-list',
    cacheKey: (r) => cacheKeys.staffPermissionList(r.accountId),
    encode: (l) => ListStaffPermissionsResponse.encode({ staffPermissions: [...l.items], nextPageToken: '' }).finish(),
    decode: (b) => ({ items: ListStaffPermissionsResponse.decode(b).staffPermissions, truncated: false }),
    // The list version is bumped after the row in the same transaction, so lists compare with it.
    tokenVersion: (t) => t.listVersion,
    async load(refs, deadline) {
      const out = new Map<string, Loaded<CachedStaffList>>();
      for (const r of refs) {
        const list = await repo.loadList(r.accountId, cacheMaxRows, deadline);
        // No summary row yet (version 0) or too long: served, never cached.
        out.set(cacheKeys.staffPermissionList(r.accountId).key, {
          version: list.listVersion,
          value: { items: list.items, truncated: list.truncated },
          cacheable: list.listVersion > 0n && !list.truncated,
        });
      }
      return out;
    },
  };
}

type Methods = Pick<
  SettingsServiceServer,
  'getStaffPermission' | 'batchGetStaffPermissions' | 'listStaffPermissions' | 'createStaffPermission' | 'updateStaffPermission' | 'deleteStaffPermission'
>;

export function staffPermissionMethods(unary: Unary, readThrough: ReadThrough, repo: StaffPermissionsRepo, listCacheMaxRows: number): Methods {
  const resource: Resource<StaffRef, StaffPermission> = { parser: parsers.staffPermission, source: staffPermissionSource(repo) };
  const lists = staffListSource(repo, listCacheMaxRows);

  async function list(req: ListStaffPermissionsRequest, ctx: CallContext): Promise<ListStaffPermissionsResponse> {
    const violations = new Violations();
    const parent = parseName(parsers.account, req.parent, 'parent', violations);
    violations.throwIfAny();
    ctx.authorize(parent!.accountId);
    if (req.pageSize < 0) violations.add('page_size', 'must not be negative');
    const after = req.pageToken === '' ? undefined : decodePageToken(req.pageToken, parent!.accountId);
    if (req.pageToken !== '' && after === undefined) violations.add('page_token', 'not a page token of this list');
    const mode = parseReadMode(req.consistency);
    violations.throwIfAny();
    const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);

    const cached = (await readThrough.get(lists, parent!, ctx.readRequest(mode)))!.value;
    let page: StaffPermission[];
    let more: boolean;
    if (!cached.truncated) {
      const start = after === undefined ? 0 : firstAfter(cached.items, after);
      page = cached.items.slice(start, start + pageSize);
      more = start + pageSize < cached.items.length;
    } else {
      const rows = await repo.loadPage(parent!.accountId, after, pageSize + 1, ctx.deadline);
      page = rows.slice(0, pageSize);
      more = rows.length > pageSize;
    }
    const last = page[page.length - 1];
    return { staffPermissions: page, nextPageToken: more && last ? encodePageToken(parent!.accountId, staffIdOf(last)) : '' };
  }

  return {
    getStaffPermission: unary('GetStaffPermission', 'read', (req: GetStaffPermissionRequest, ctx) => getResource(readThrough, resource, req, ctx)),
    batchGetStaffPermissions: unary(
      'BatchGetStaffPermissions',
      'read',
      async (req: BatchGetStaffPermissionsRequest, ctx): Promise<BatchGetStaffPermissionsResponse> => ({
        staffPermissions: await batchGetResources(readThrough, resource, req, ctx),
      }),
    ),
    listStaffPermissions: unary('ListStaffPermissions', 'read', list),
    ...staffPermissionWriteMethods(unary, repo),
  };
}

/** Index of the first item whose staff id sorts after `staffId` (items are sorted). */
function firstAfter(items: readonly StaffPermission[], staffId: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (staffIdOf(items[mid]!) <= staffId) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
