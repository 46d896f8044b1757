import { createServer, type Server, type Socket } from 'node:net';
import { createLogger } from '@settings/shared';
import { createKnex, Db } from '../../src/db/db';
import { classify } from '../../src/grpc/status-mapping';
import { createSettingsMetrics } from '../../src/metrics';

/**
 * The read pool against an address that accepts TCP and never answers (a frozen PostgreSQL, a
 * host gone dark in a failover): a plain listener here, since a real server cannot be made to
 * stay silent on connect. Every call waiting for a connection must be told UNAVAILABLE.
 */
let server: Server;
const sockets: Socket[] = [];
beforeAll(async () => {
  server = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

it('every read waiting for a connection to a silent server is DATABASE_UNAVAILABLE, not only the first', async () => {
  const { port } = server.address() as { port: number };
  const knex = createKnex(`postgres://u:p@127.0.0.1:${port}/db`, 2, 300, 'settings-test', createLogger('test', 'silent'));
  const db = new Db({ read: knex, write: knex }, createSettingsMetrics(), { statementCapMs: 2000, lockTimeoutMs: 250, lockWaitMax: 1, writePoolMax: 1, writeQueueMax: 0, answerGraceMs: 1000 });
  try {
    const reads: Array<Promise<unknown>> = [];
    for (let i = 0; i < 3; i++) {
      reads.push(db.read('account_settings.read', Date.now() + 10_000, (k) => k.raw('select 1')).then(() => 'answered', (err: unknown) => classify(err).code));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await Promise.all(reads)).toEqual(['DATABASE_UNAVAILABLE', 'DATABASE_UNAVAILABLE', 'DATABASE_UNAVAILABLE']);
  } finally {
    await knex.destroy();
  }
});
