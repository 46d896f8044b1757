import type { ReadSource } from '../../cache/read-through';
import type { ResourceProto, SettingsResource, VersionedMessage } from '../../resources/resource';
import type { ResourceKey } from '../../resources/resource-name';
import { batchGetResources, getResource } from './get';
import type { BatchGetRequest, GetRequest, MethodDeps, ReadMethods } from './rpc-types';

/** `Get<singular>` and `BatchGet<plural>` of any resource, read through `source`. */
export function readMethods<C extends string, T extends VersionedMessage, P extends ResourceProto<T>>(
  resource: SettingsResource<C, T, P>,
  source: ReadSource<ResourceKey<C>, T>,
  { unary, readThrough, tokens }: MethodDeps,
): ReadMethods<P, T> {
  const { singular, plural, pluralField } = resource.proto;
  // Computed keys widen to `string`; the cast restores the names ReadMethods spells from P.
  return {
    [`get${singular}`]: unary(`Get${singular}`, 'read', (req: GetRequest, ctx) => getResource(readThrough, resource.name, source, req, ctx, tokens)),
    [`batchGet${plural}`]: unary(`BatchGet${plural}`, 'read', async (req: BatchGetRequest, ctx) => ({
      [pluralField]: await batchGetResources(readThrough, resource.name, source, req, ctx, tokens),
    })),
  } as ReadMethods<P, T>;
}
