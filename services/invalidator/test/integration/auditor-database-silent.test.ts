import { startPgPartitionProxy, uniqueId, waitFor } from '@settings/local-stack';
import { accountSettingsTable, createLogger, localAuditorDatabaseUrl } from '@settings/shared';
import { pgRowVersions } from '../../src/audit/row-versions';

/**
 * README, Staleness auditor: its version reads against a PostgreSQL that stopped answering (a
 * partition, a frozen VM, a primary gone in a failover: the socket stays open and silent, so the
 * server's statement_timeout never reports back) fail after the statement timeout plus a second,
 * instead of holding the audit loop, and with it the invalidator's shutdown, until the kernel
 * gives up on the socket. The next read after a failover succeeds. The reads go through a proxy
 * this test cuts; nothing else is affected.
 */
jest.setTimeout(30_000);
const STATEMENT_TIMEOUT_MS = 500;

it("a version read that PostgreSQL never answers fails within 3.5 s (the 0.5 s statement timeout plus a second, plus 2 s of slack); reads work again after a failover", async () => {
  const proxy = await startPgPartitionProxy(localAuditorDatabaseUrl);
  const rows = pgRowVersions(proxy.databaseUrl, createLogger('auditor-test', 'silent'), STATEMENT_TIMEOUT_MS);
  const ids = [{ account_id: uniqueId() }];
  try {
    expect((await rows.versions(accountSettingsTable, ids)).size).toBe(0);
    proxy.partition();
    const startedAt = Date.now();
    const outcome = await Promise.race([
      rows.versions(accountSettingsTable, ids).then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise<string>((resolve) => setTimeout(() => resolve('still waiting'), 5_000)),
    ]);
    expect(outcome).toBe('failed');
    // The client's query_timeout (statement timeout + 1 s), plus 2 s for a loaded CI machine;
    // without it the read waits for the kernel (minutes) and the race above says so at 5 s.
    expect(Date.now() - startedAt).toBeLessThan(STATEMENT_TIMEOUT_MS + 1000 + 2000);
    proxy.failover();
    await waitFor(
      () =>
        rows.versions(accountSettingsTable, ids).then(
          () => true,
          () => false,
        ),
      10_000,
      'a version read after the failover',
    );
  } finally {
    await proxy.close();
    await rows.close();
  }
});
