import { join, resolve } from 'node:path';
import { repoRoot } from '@settings/local-stack';

/** Results of runs (git-ignored): `chaos-<run>.json`, and the services' logs under raw/<run>/. */
export const resultsDir = join(repoRoot, 'chaos', 'results');

/**
 * Where the services under test are built: this checkout, or CHAOS_SERVICES_ROOT — another
 * checkout's build, e.g. the commit before a fix, to show that the suite fails there.
 */
export const servicesRoot = resolve(process.env.CHAOS_SERVICES_ROOT ?? repoRoot);
export const settingsEntry = join(servicesRoot, 'services/settings/dist/src/main.js');
export const invalidatorEntry = join(servicesRoot, 'services/invalidator/dist/src/main.js');
