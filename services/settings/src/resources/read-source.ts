import type { Loaded, ReadSource } from '../cache/read-through';
import type { SettingsResource, VersionedMessage } from './resource';
import type { ResourceKey } from './resource-name';

/** Loads the resources of `keys` from PostgreSQL, keyed by cache key; missing ones do not exist. */
export type ResourceLoader<K, T> = (keys: readonly K[], deadline: number) => Promise<Map<string, Loaded<T>>>;

/** How the read-through cache keys, encodes and loads a resource: all from its descriptor. */
export function resourceReadSource<C extends string, T extends VersionedMessage>(
  resource: SettingsResource<C, T>,
  load: ResourceLoader<ResourceKey<C>, T>,
): ReadSource<ResourceKey<C>, T> {
  return {
    space: resource.table.space,
    cacheKey: (key) => resource.table.key(key),
    encode: (message) => resource.proto.message.encode(message).finish(),
    decode: (payload) => resource.proto.message.decode(payload),
    load,
  };
}
