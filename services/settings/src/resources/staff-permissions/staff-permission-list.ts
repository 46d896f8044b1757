import { ListStaffPermissionsResponse, type StaffPermission } from '@settings/api';
import { staffPermissionListsTable } from '@settings/shared';
import type { Loaded, ReadSource } from '../../cache/read-through';
import type { AccountKey } from '../account';

/** A whole grant list (ordered by staff id), cached as one entry at the account's list version. */
export interface CachedStaffList {
  readonly items: readonly StaffPermission[];
  /** True when the account has more grants than the cache cap; then pages come from PostgreSQL. */
  readonly truncated: boolean;
}

/** The first grants of an account as read from PostgreSQL. */
export interface StaffList {
  /** staff_permission_lists.version, read in the same snapshot as the rows; 0 = never written. */
  readonly listVersion: bigint;
  readonly items: readonly StaffPermission[];
  /** More rows exist than were read (the list is too long to cache whole). */
  readonly truncated: boolean;
}

/** The first `cap` grants of an account and its list version, read in one snapshot. */
export type StaffListLoader = (account: AccountKey, cap: number, deadline: number) => Promise<StaffList>;

/**
 * The list of an account's grants as the read-through cache sees it: keyed and versioned by the
 * account's `staff_permission_lists` row (shared table descriptor), so the invalidator's marker
 * for that row (or for any grant of the account) fences it like a single resource.
 */
export function staffListSource(loadList: StaffListLoader, cacheMaxRows: number): ReadSource<AccountKey, CachedStaffList> {
  return {
    space: staffPermissionListsTable.space,
    cacheKey: (account) => staffPermissionListsTable.key(account),
    encode: (l) => ListStaffPermissionsResponse.encode({ staffPermissions: [...l.items], nextPageToken: '' }).finish(),
    decode: (b) => ({ items: ListStaffPermissionsResponse.decode(b).staffPermissions, truncated: false }),
    // The list version is bumped after the row in the same transaction, so lists compare with it.
    tokenVersion: (t) => t.listVersion,
    async load(accounts, deadline) {
      const out = new Map<string, Loaded<CachedStaffList>>();
      for (const account of accounts) {
        const list = await loadList(account, cacheMaxRows, deadline);
        // No summary row yet (version 0) or too long: served, never cached.
        out.set(staffPermissionListsTable.key(account).key, {
          version: list.listVersion,
          value: { items: list.items, truncated: list.truncated },
          cacheable: list.listVersion > 0n && !list.truncated,
        });
      }
      return out;
    },
  };
}
