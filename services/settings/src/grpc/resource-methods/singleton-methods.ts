import { SingletonRepo } from '../../db/singleton-repo';
import { resourceReadSource } from '../../resources/read-source';
import type { ResourceProto, SettingsResource, VersionedMessage } from '../../resources/resource';
import { readMethods } from './read-methods';
import type { MethodDeps, RequestOf, SingletonMethods, UpdateRequest } from './rpc-types';
import { parseUpdate } from './update-request';

/**
 * Every method of a settings singleton (AIP-156: `Get`, `BatchGet`, `Update` with update mask,
 * etag and `allow_missing`), built from its descriptor alone.
 */
export function singletonSettingsMethods<C extends string, T extends VersionedMessage, P extends ResourceProto<T>>(
  resource: SettingsResource<C, T, P> & { readonly proto: { readonly field: keyof RequestOf<`update${P['singular']}`> } },
  deps: MethodDeps,
): SingletonMethods<P, T> {
  const repo = new SingletonRepo(deps.db, resource, deps.tokens);
  const singular = resource.proto.singular;
  const field: P['field'] = resource.proto.field;
  const update = deps.unary(`Update${singular}`, 'write', async (req: UpdateRequest<P['field'], T>, ctx) => {
    const u = parseUpdate(resource, { message: req[field], mask: req.updateMask }, ctx);
    return repo.update({ ...u, allowMissing: req.allowMissing }, ctx.deadline);
  });
  // Computed keys widen to `string`; the cast restores the name SingletonMethods spells from P.
  return { ...readMethods(resource, resourceReadSource(resource, repo.load), deps), [`update${singular}`]: update } as SingletonMethods<P, T>;
}
