import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/state-dir';

/**
 * The images install dependencies with install scripts off, so the postinstall that applies
 * patches/ locally never runs there: the Dockerfile applies them itself, and the invalidator
 * image must ship the patched kafkajs (static membership), not the pristine one its own
 * production install brings. No Docker engine here to build the image; this reads the file.
 */
describe('patched dependencies in the container images', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const stage = (name: string): string => {
    const from = dockerfile.indexOf(` AS ${name}\n`);
    if (from < 0) throw new Error(`no stage ${name} in the Dockerfile`);
    const next = dockerfile.indexOf('\nFROM ', from);
    return dockerfile.slice(from, next < 0 ? undefined : next);
  };

  it('the build stage applies every patch, failing the build if one does not apply', () => {
    expect(stage('build')).toMatch(/^COPY patches patches$/m);
    expect(stage('build')).toMatch(/^RUN npx --no-install patch-package --error-on-fail$/m);
  });

  it('the invalidator image copies each patched package from the build stage over its own install', () => {
    const patched = readdirSync(join(repoRoot, 'patches')).map((file) => file.slice(0, file.lastIndexOf('+')));
    expect(patched).toContain('kafkajs');
    const invalidator = stage('invalidator');
    const deps = invalidator.indexOf('COPY --from=invalidator-deps /app/node_modules node_modules');
    for (const name of patched) {
      const copy = invalidator.indexOf(`COPY --from=build /app/node_modules/${name} node_modules/${name}`);
      expect(copy).toBeGreaterThan(deps);
    }
  });
});
