import { ListStaffPermissionsResponse, type StaffPermission } from '@settings/api';
import { staffPermissionListsTable } from '@settings/shared';
import type { Loaded, ReadSource } from '../../cache/read-through';
import type { AccountKey } from '../account';

/** A whole grant list (ordered by staff id), cached as one entry at the account's list version. */
export interface CachedStaffList {
  readonly items: readonly StaffPermission[];
  /** True when the list is over a cache cap (rows or bytes); then pages come from PostgreSQL. */
  readonly truncated: boolean;
}

/** Lists over either cap are served page by page from PostgreSQL and never cached. */
export interface StaffListCacheLimits {
  readonly maxRows: number;
  /** Encoded size of the whole list (what the cache entry would hold). */
  readonly maxBytes: number;
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
export function staffListSource(loadList: StaffListLoader, limits: StaffListCacheLimits): ReadSource<AccountKey, CachedStaffList> {
  const encode = (items: readonly StaffPermission[]): Uint8Array => ListStaffPermissionsResponse.encode({ staffPermissions: [...items], nextPageToken: '' }).finish();
  return {
    space: staffPermissionListsTable.space,
    cacheKey: (account) => staffPermissionListsTable.key(account),
    encode: (l) => encode(l.items),
    decode: (b) => {
      // Filled by a replica with a larger cap (a rollout that lowered it, replicas configured
      // apart): served page by page from PostgreSQL like any list over this replica's cap, never
      // whole past it.
      if (b.length > limits.maxBytes) return { items: [], truncated: true };
      const items = ListStaffPermissionsResponse.decode(b).staffPermissions;
      // In byte order of staff id whatever order it was stored in: the List handler pages it by
      // comparing ids, and entries filled before lists were read in byte order (COLLATE "C") were
      // in the database collation's ('-' and '_' before digits), which made pages skip grants.
      // Every name shares the account's prefix, so names sort as their staff ids. Already sorted
      // (every current fill) costs one pass.
      for (let i = 1; i < items.length; i++) {
        if (items[i - 1]!.name > items[i]!.name) {
          items.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
          break;
        }
      }
      return { items, truncated: false };
    },
    // The list version is bumped after the row in the same transaction, so lists compare with it.
    tokenVersion: (t) => t.listVersion,
    async load(accounts, deadline) {
      const out = new Map<string, Loaded<CachedStaffList>>();
      for (const account of accounts) {
        const list = await loadList(account, limits.maxRows, deadline);
        // A few long grants can make a short list huge (200 permissions of 100 characters each
        // are ~20 kB a grant): the byte cap keeps such values out of Redis and off the wire whole.
        const tooLarge = list.truncated || encode(list.items).length > limits.maxBytes;
        // No summary row yet (version 0) or too large: served, never cached.
        out.set(staffPermissionListsTable.key(account).key, {
          version: list.listVersion,
          value: tooLarge ? { items: [], truncated: true } : { items: list.items, truncated: false },
          cacheable: list.listVersion > 0n && !tooLarge,
        });
      }
      return out;
    },
  };
}
