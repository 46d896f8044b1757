import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Each service's entry point catches SIGTERM before it loads the rest of itself (0.4–0.9 s of
 * module loading): as PID 1 in a container a signal without a handler is ignored, and the
 * service used to start anyway and be SIGKILLed at the end of the grace period. (Node's own
 * native SIGTERM handler only resets the terminal and re-raises, which PID 1 ignores too.) A
 * preloaded probe looks for a SIGTERM listener at the moment the entry point first requires the
 * shared package's index, and stops the process there.
 */
const entries = [join(__dirname, '../../../../services/settings/dist/src/main.js'), join(__dirname, '../../../../services/invalidator/dist/src/main.js')];
const probe = join(tmpdir(), `sigcgt-probe-${process.pid}.js`);
writeFileSync(
  probe,
  `const Module = require('module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === '@settings/shared') {
    process.stdout.write(process.listeners('SIGTERM').length > 0 ? 'SIGTERM caught' : 'SIGTERM not caught');
    process.exit(0);
  }
  return load.call(this, request, ...rest);
};
`,
);

it.each(entries)('%s catches SIGTERM before it loads the rest of itself', (entry) => {
  const run = spawnSync(process.execPath, ['-r', probe, entry], { env: { ...process.env, SETTINGS_LOCAL_STACK: '1' }, encoding: 'utf8', timeout: 30_000 });
  expect(run.stdout).toBe('SIGTERM caught');
});
