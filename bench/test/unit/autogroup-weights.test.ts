import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { AutogroupWeights, autogroupOf } from '../../src/autogroup-weights';

/**
 * bulk-drain lowers the CDC pipeline's CPU weight in alternate rounds and must leave every
 * process group as it found it. A detached child is a session, so an autogroup, of its own;
 * raising its nice needs no privilege.
 */
const autogroups = existsSync('/proc/self/autogroup');
let child: ChildProcess;
beforeAll(() => {
  child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
});
afterAll(() => child.kill());

(autogroups ? it : it.skip)('lowers the weight of a process group, then puts its nice back', () => {
  const pid = child.pid!;
  const before = autogroupOf(pid)!;
  expect(before.id).not.toBe(autogroupOf(process.pid)!.id);
  const weights = AutogroupWeights.set([pid, pid], before.nice + 5);
  expect(weights).toBeDefined();
  expect(autogroupOf(pid)).toEqual({ id: before.id, nice: before.nice + 5 });
  weights!.restore();
  expect(autogroupOf(pid)).toEqual(before);
});

it('returns undefined, changing nothing, when a process is gone', () => {
  expect(AutogroupWeights.set([2 ** 22 + 1], 10)).toBeUndefined();
});
