import net from 'node:net';
import { listenAsDatabase } from '@settings/local-stack';
import { localStack } from '@settings/shared';

/**
 * A TCP proxy in front of the local stack's PostgreSQL that loses PostgreSQL's answers on cue:
 * what a network drop or a crash right after a statement reached the server looks like to the
 * service. Only the proxy's own connections are affected. (`startPgPartitionProxy` of
 * @settings/local-stack silences every connection at a moment the test picks; this one picks the
 * moment by what the service sends.)
 */
export interface PgAnswerLossProxy {
  /** The local stack's database URL, through this proxy. */
  readonly databaseUrl: string;
  /**
   * The next client message containing `text` is forwarded to PostgreSQL; from then on nothing
   * comes back on that connection, and `closeAfterMs` later (default 300 ms: PostgreSQL has long
   * answered) its client socket is closed. With `silent` it stays open and silent instead, until
   * the client closes it. Resolves once the message has been forwarded.
   */
  loseAnswersAfter(text: string, options?: { silent?: boolean; closeAfterMs?: number }): Promise<void>;
  /** While on, connections are closed as soon as they are accepted, and those open are closed now. */
  refuseConnections(on: boolean): void;
  close(): Promise<void>;
}

export async function startPgAnswerLossProxy(): Promise<PgAnswerLossProxy> {
  const open = new Set<net.Socket>();
  let refusing = false;
  let cue: { text: string; silent: boolean; closeAfterMs: number; forwarded: () => void } | undefined;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(localStack.postgresPort, '127.0.0.1');
    let answersLost = false;
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => open.delete(s));
    }
    client.on('data', (chunk) => {
      upstream.write(chunk);
      if (!cue || answersLost || !chunk.includes(cue.text)) return;
      const { silent, closeAfterMs, forwarded } = cue;
      cue = undefined;
      answersLost = true;
      if (!silent) setTimeout(() => client.destroy(), closeAfterMs);
      forwarded();
    });
    upstream.on('data', (chunk) => {
      if (!answersLost) client.write(chunk);
    });
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.destroy());
  });
  return {
    databaseUrl: await listenAsDatabase(server),
    loseAnswersAfter(text, { silent = false, closeAfterMs = 300 } = {}) {
      return new Promise((forwarded) => {
        cue = { text, silent, closeAfterMs, forwarded };
      });
    },
    refuseConnections(on) {
      refusing = on;
      if (on) for (const s of open) s.destroy();
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
