import { StaffPermission, type ListStaffPermissionsRequest, type ListStaffPermissionsResponse } from '@settings/api';
import type { ReadThrough } from '../../cache/read-through';
import { parseReadMode } from '../../consistency/read-mode';
import type { StaffPermissionsRepo } from '../../db/staff-permissions-repo';
import { Violations } from '../../errors';
import { accountName } from '../../resources/account';
import { parseName } from '../../resources/resource-name';
import { staffListSource, type StaffListCacheLimits } from '../../resources/staff-permissions/staff-permission-list';
import type { ConsistencyTokens } from '../../consistency/token';
import type { CallContext, Handler } from '../unary';
import { decodePageToken, encodePageToken, staffIdOf } from './page-token';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/**
 * ListStaffPermissions (AIP-132): pages of the account's whole list, cached as one entry; lists
 * over a cache cap (rows or encoded bytes) are paged from PostgreSQL by keyset instead.
 */
export function listStaffPermissions(
  readThrough: ReadThrough,
  repo: StaffPermissionsRepo,
  tokens: ConsistencyTokens,
  cacheLimits: StaffListCacheLimits,
): Handler<ListStaffPermissionsRequest, ListStaffPermissionsResponse> {
  const lists = staffListSource(repo.loadList, cacheLimits);
  return async (req: ListStaffPermissionsRequest, ctx: CallContext) => {
    const violations = new Violations();
    const parent = parseName(accountName, req.parent, 'parent', violations);
    violations.throwIfAny();
    ctx.authorize(parent!.account_id);
    if (req.pageSize < 0) violations.add('page_size', 'must not be negative');
    const after = req.pageToken === '' ? undefined : decodePageToken(req.pageToken, parent!.account_id);
    if (req.pageToken !== '' && after === undefined) violations.add('page_token', 'not a page token of this list');
    const mode = parseReadMode(req.consistency, tokens, 'consistency', violations);
    violations.throwIfAny();
    const pageSize = req.pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(req.pageSize, MAX_PAGE_SIZE);

    const read = ctx.readRequest(mode);
    const cached = (await readThrough.get(lists, parent!, read))!.value;
    let page: StaffPermission[];
    let more: boolean;
    if (!cached.truncated) {
      const start = after === undefined ? 0 : firstAfter(cached.items, after);
      page = cached.items.slice(start, start + pageSize);
      more = start + pageSize < cached.items.length;
    } else {
      // Every page of such a list is a database read: admitted per caller like a deliberate read.
      const rows = await readThrough.deliberateRead(read, () => repo.loadPage(parent!, after, pageSize + 1, ctx.deadline));
      page = withinBytes(rows.slice(0, pageSize), cacheLimits.maxBytes);
      more = rows.length > page.length;
    }
    const last = page[page.length - 1];
    return { staffPermissions: page, nextPageToken: more && last ? encodePageToken(parent!.account_id, staffIdOf(last)) : '' };
  };
}

/**
 * The first items whose response encoding stays within `maxBytes` (at least one: a single grant
 * is bounded by the field checks). A page of a list too large to cache is cut here, as AIP-158
 * allows (fewer than page_size, with a next page token): 1,000 grants of 200 permissions are
 * ~20 MB, over a default gRPC client's 4 MB receive limit.
 */
function withinBytes(items: readonly StaffPermission[], maxBytes: number): StaffPermission[] {
  // Room for the next page token (account and staff ids, base64) and its tag.
  let bytes = 512;
  let n = 0;
  for (const item of items) {
    const size = StaffPermission.encode(item).finish().length;
    // Tag, length prefix (up to 3 bytes below 2 MiB) and the message.
    bytes += size + 4;
    if (n > 0 && bytes > maxBytes) break;
    n += 1;
  }
  return items.slice(0, n);
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
