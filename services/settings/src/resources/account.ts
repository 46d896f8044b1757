import type { ResourceKey } from './resource-name';
import { resourceName } from './resource-name';

/** `accounts/{account}`: the parent of every resource, and the unit of tenancy (ctx.authorize). */
export const accountName = resourceName('accounts/{account}', ['account_id']);

export type AccountKey = ResourceKey<'account_id'>;
