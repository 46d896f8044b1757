import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeEnv } from '@settings/shared';
import { settingsEnvSchema } from '../../src/config';

/** The README's configuration table is the schema, so docs cannot drift from the code. */
it('README lists every variable of settingsEnvSchema with its default, in order', () => {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Metrics'));
  const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| (.+?) \| (.+) \|$/gm)].map((m) => ({ name: m[1], def: m[2] }));
  const expected = describeEnv(settingsEnvSchema).map((r) => ({ name: r.name, def: r.default === '' ? '(empty)' : `\`${r.default}\`` }));
  expect(rows).toEqual(expected);
});
