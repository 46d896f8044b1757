import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { localDevJwtHs256Secret } from '@settings/shared';
import { accountsDeletedAfterAll, mintToken, serverForTests } from '../support/test-server';

/**
 * The root README's "Try it" block, run as it is written (bash, from the repository root):
 * `buf curl` over gRPC (schema from the service's reflection), a token from `npm run token`, a masked write, a read,
 * an etag-conditional write, and the stale etag refused. The service runs in AUTH_MODE=jwt with
 * the local stack's development secret, so the token command's output is really verified.
 */
const REPO_ROOT = join(__dirname, '../../../..');
const t = serverForTests({ JWT_HS256_SECRET: localDevJwtHs256Secret });
const newAccount = accountsDeletedAfterAll();

function readmeRecipes(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const m = /<!-- recipes:begin -->\n```sh\n([\s\S]*?)```\n<!-- recipes:end -->/.exec(readme);
  if (!m) throw new Error('README.md has no recipes block between <!-- recipes:begin --> and <!-- recipes:end -->');
  return m[1]!;
}

it('the README recipes work against a jwt-mode service, the stale etag is refused', async () => {
  const account = newAccount();
  // No -e: the last command fails on purpose; every step is checked in the output instead.
  const run = await promisify(execFile)('bash', ['-u', '-o', 'pipefail', '-c', readmeRecipes()], {
    cwd: REPO_ROOT,
    env: { ...process.env, SETTINGS: `127.0.0.1:${t.running.port}`, ACCOUNT: account, JWT_HS256_SECRET: '' },
    timeout: 120_000,
  }).catch((err: { stdout: string; stderr: string; code: number }) => ({ stdout: err.stdout, stderr: err.stderr, code: err.code }));
  const out = `${run.stdout}\n${run.stderr}`;
  expect(out).toContain('settings.v1.SettingsService/GetAccountSettings');
  expect(out).toContain('"timeZone": "Europe/Berlin"');
  expect(out).toContain('"displayName": "Acme Clinic"');
  expect(out).toMatch(/"code":\s*"aborted",\s*"message":\s*"etag \d+ does not match the current etag/);
  expect(out).not.toContain('Lost update');
  expect('code' in run ? run.code : 0).not.toBe(0);
  // What the service holds is the conditional write.
  const now = await t.call('getAccountSettings', { name: `accounts/${account}/settings`, consistency: { requirement: { $case: 'fullyConsistent', value: true } } }, { token: await mintToken({ secret: localDevJwtHs256Secret }) });
  expect({ timeZone: now.timeZone, displayName: now.displayName }).toEqual({ timeZone: 'Europe/Berlin', displayName: 'Acme Clinic' });
}, 180_000);
