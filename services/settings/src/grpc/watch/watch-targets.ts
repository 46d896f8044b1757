import type { SettingsChange, StaffPermission, WatchSettingsResponse, WatchTarget as WatchTargetMessage } from '@settings/api';
import { generationKey } from '@settings/shared';
import type { ReadRequest, ReadSource, ReadThrough } from '../../cache/read-through';
import { SingletonRepo } from '../../db/singleton-repo';
import type { StaffPermissionsRepo } from '../../db/staff-permissions-repo';
import { SettingsError, Violations } from '../../errors';
import { accountSettings } from '../../resources/account-settings/account-settings';
import { accountName, type AccountKey } from '../../resources/account';
import { doctorSettings } from '../../resources/doctor-settings/doctor-settings';
import { onPatientSettings } from '../../resources/onpatient-settings/onpatient-settings';
import { resourceReadSource } from '../../resources/read-source';
import type { SettingsResource, VersionedMessage } from '../../resources/resource';
import type { ResourceKey } from '../../resources/resource-name';
import { staffListSource, type CachedStaffList, type StaffListCacheLimits } from '../../resources/staff-permissions/staff-permission-list';
import { grantChanges } from '../../watch/grant-diff';
import type { Observed } from '../../watch/watch-topic';
import type { Sent, WatchTarget } from '../../watch/watcher';
import type { MethodDeps } from '../resource-methods/rpc-types';

/** AIP-231-like limit on one stream's targets; the proto documents the same number. */
export const MAX_WATCH_TARGETS = 100;
/** Versions are PostgreSQL bigints. */
const MAX_VERSION = (1n << 63n) - 1n;

type Value = NonNullable<SettingsChange['value']>;
export type WatchTargetOf = WatchTarget<unknown, WatchSettingsResponse>;

/**
 * The read every watched resource's re-read uses: at least as fresh as version 0 — which every
 * entry is — so it is served from the near-cache or Redis like a default read, but joins only
 * database loads that started after it. A re-read caused by a change can therefore never be
 * answered by a load that began before the change committed.
 */
function readAfterTheChange(): ReadRequest {
  const now = Date.now();
  return { mode: { kind: 'at_least_as_fresh', token: { version: 0n, listVersion: 0n } }, startedAt: now, deadline: now + 10_000, caller: 'watch', yieldToSameVersion: true, joinsOnlyLaterLoads: true };
}

interface Kind {
  /** A singleton's target, or undefined when the name is not of this kind. */
  target(name: string, resumeVersion: bigint | undefined): { account: string; build: () => WatchTargetOf } | undefined;
}

function singletonKind<C extends string, T extends VersionedMessage>(
  resource: SettingsResource<C, T>,
  readThrough: ReadThrough,
  source: ReadSource<ResourceKey<C>, T>,
  wrap: (message: T) => Value,
): Kind {
  return {
    target(name, resumeVersion) {
      const key = resource.name.parse(name);
      if (!key) return undefined;
      return {
        account: key.account_id,
        build: () => ({
          name,
          key: resource.table.key(key).key,
          generationKey: generationKey(resource.table.space),
          resumeVersion,
          // A row's version changes with every write to it; rendered whole, never as a delta.
          sameVersionSameState: true,
          read: async () => {
            const found = await readThrough.get(source, key, readAfterTheChange());
            return found ? { state: found.value, version: found.version } : { state: undefined, version: 0n };
          },
          render: (sent: Sent<unknown>, latest: Observed<unknown>) => {
            if (sent.kind === 'resume' && sent.version === latest.version) return [];
            const state = latest.state as T | undefined;
            return [change({ name, resumeToken: latest.version.toString(), fullState: true, missing: state === undefined, value: state ? wrap(state) : undefined })];
          },
        }),
      };
    },
  };
}

function staffListKind(readThrough: ReadThrough, source: ReadSource<AccountKey, CachedStaffList>): Kind {
  return {
    target(name, resumeVersion) {
      const key = accountName.parse(name);
      if (!key) return undefined;
      return {
        account: key.account_id,
        build: () => ({
          name,
          key: source.cacheKey(key).key,
          generationKey: generationKey(source.space),
          resumeVersion,
          read: async () => {
            const found = await readThrough.get(source, key, readAfterTheChange());
            // An account without grants has list version 0: an existing, empty list.
            return { state: found?.value.truncated ? TOO_LARGE : (found?.value.items ?? []), version: found?.version ?? 0n };
          },
          render: (sent: Sent<unknown>, latest: Observed<unknown>) => {
            if (latest.state === TOO_LARGE) {
              throw new SettingsError('LIST_TOO_LARGE', `${name} has more staff permissions than a watch holds (the list cache caps); page them with ListStaffPermissions`);
            }
            const items = latest.state as readonly StaffPermission[];
            const resumeToken = latest.version.toString();
            if (sent.kind === 'state' && !sent.baseUnknown) {
              const d = grantChanges(sent.observed.state as readonly StaffPermission[], items);
              if (d.upserted.length === 0 && d.deleted.length === 0) return [];
              return [change({ name, resumeToken, fullState: false, missing: false, value: { $case: 'staffPermissions', value: d } })];
            }
            if (sent.kind === 'resume' && sent.version === latest.version) return [];
            return [change({ name, resumeToken, fullState: true, missing: false, value: { $case: 'staffPermissions', value: { upserted: [...items], deleted: [] } } })];
          },
        }),
      };
    },
  };
}

/** A list over the cache caps (rows or bytes): served paged, never whole, so it cannot be watched. */
const TOO_LARGE = Symbol('staff list too large to watch');

const change = (c: SettingsChange): WatchSettingsResponse => ({ event: { $case: 'change', value: c } });

export interface WatchTargetParser {
  /** Validates the request's targets (INVALID_ARGUMENT with field violations) and returns them with their accounts. */
  parse(targets: readonly WatchTargetMessage[]): Array<{ account: string; build: () => WatchTargetOf }>;
}

/** Every kind of watchable resource, read through the same sources as Get and List. */
export function watchTargetParser(deps: MethodDeps, staffRepo: StaffPermissionsRepo, listCache: StaffListCacheLimits): WatchTargetParser {
  const rt = deps.readThrough;
  const singleton = <C extends string, T extends VersionedMessage>(resource: SettingsResource<C, T>, wrap: (m: T) => Value): Kind =>
    singletonKind(resource, rt, resourceReadSource(resource, new SingletonRepo(deps.db, resource, deps.tokens).load), wrap);
  const kinds: Kind[] = [
    singleton(accountSettings, (m) => ({ $case: 'accountSettings', value: m })),
    singleton(doctorSettings, (m) => ({ $case: 'doctorSettings', value: m })),
    singleton(onPatientSettings, (m) => ({ $case: 'onpatientSettings', value: m })),
    staffListKind(rt, staffListSource(staffRepo.loadList, listCache)),
  ];
  return {
    parse(targets) {
      const violations = new Violations();
      if (targets.length === 0) violations.add('targets', 'at least one target is required');
      if (targets.length > MAX_WATCH_TARGETS) violations.add('targets', `at most ${MAX_WATCH_TARGETS} targets per stream`);
      violations.throwIfAny();
      const seen = new Set<string>();
      const out: Array<{ account: string; build: () => WatchTargetOf }> = [];
      targets.forEach((t, i) => {
        let resume: bigint | undefined;
        if (t.resumeToken !== '') {
          // Spelled as the service sends them (a bookmark of a resource never seen is `0`) and
          // within a version's range, like etags and consistency tokens.
          if (/^(0|[1-9]\d{0,18})$/.test(t.resumeToken) && BigInt(t.resumeToken) <= MAX_VERSION) resume = BigInt(t.resumeToken);
          else violations.add(`targets[${i}].resume_token`, 'not a resume token of this service (a decimal version)');
        }
        if (seen.has(t.name)) violations.add(`targets[${i}].name`, 'watched twice in one stream');
        seen.add(t.name);
        const found = kinds.map((k) => k.target(t.name, resume)).find((x) => x !== undefined);
        if (!found) {
          violations.add(
            `targets[${i}].name`,
            `must be ${accountSettings.name.pattern}, ${doctorSettings.name.pattern}, ${onPatientSettings.name.pattern} or ${accountName.pattern} (its staff permissions)`,
          );
        } else out.push(found);
      });
      violations.throwIfAny();
      return out;
    },
  };
}
