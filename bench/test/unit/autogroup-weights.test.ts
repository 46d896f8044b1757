import { spawn, type ChildProcess } from 'node:child_process';
import { AutogroupWeights, autogroupOf, procMatchesOwnPids } from '../../src/autogroup-weights';

/**
 * bulk-drain lowers the CDC pipeline's CPU weight in alternate rounds and must leave every
 * process group as it found it. A detached child is a session, so an autogroup, of its own;
 * raising its nice needs no privilege.
 */
/**
 * Runs only where this process's own group reads back through its pid. A CI run read none for
 * the jest worker while it read one for the detached child: the signature of a `/proc` mounted
 * from another PID namespace (`/proc/<pid>` is then some other process or none). There is
 * nothing to test there, and nothing the bench may write either.
 */
const autogroups = procMatchesOwnPids() && autogroupOf(process.pid) !== undefined;
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
