import { databaseAhead, MigrationHistoryMismatchError } from '../../src';

describe('which applied migrations a release may run on (rollbacks)', () => {
  it('none or some of its own applied, in order: the rest are pending (not ahead)', () => {
    expect(databaseAhead([], ['a', 'b'])).toBeUndefined();
    expect(databaseAhead(['a'], ['a', 'b'])).toBeUndefined();
    expect(databaseAhead(['a', 'b'], ['a', 'b'])).toBeUndefined();
  });
  it("a newer release's migrations after all of its own: ahead, named (a rollback runs on that schema)", () => {
    expect(databaseAhead(['a', 'b', 'c', 'd'], ['a', 'b'])).toEqual(['c', 'd']);
  });
  it('unknown migrations before known ones, or beside pending ones of its own: another branch, refused', () => {
    expect(() => databaseAhead(['a', 'x', 'b'], ['a', 'b'])).toThrow(MigrationHistoryMismatchError);
    expect(() => databaseAhead(['a', 'x'], ['a', 'b'])).toThrow(/b of this release are not/);
  });
});
