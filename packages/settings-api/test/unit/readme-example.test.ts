import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The README's example is example-caller.ts verbatim, which the integration tests run. */
it('README shows src/example-caller.ts exactly', () => {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const example = readFileSync(join(__dirname, '../../src/example-caller.ts'), 'utf8');
  expect(readme).toContain('```ts\n' + example + '```\n');
});

it('README shows src/example-watcher.ts exactly', () => {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const example = readFileSync(join(__dirname, '../../src/example-watcher.ts'), 'utf8');
  expect(readme).toContain('```ts\n' + example + '```\n');
});
