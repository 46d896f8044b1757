import net from 'node:net';
import { localDatabaseUrl, localStack } from '@settings/shared';

/**
 * A TCP proxy in front of the local stack's PostgreSQL that cuts the network without closing
 * anything: to a client behind it, a partition (or a database host that vanished) is a
 * PostgreSQL that stopped answering, every socket still open, no FATAL, no RST. Only the
 * proxy's own connections are affected; the stack's PostgreSQL keeps serving everyone else.
 */
export interface PgPartitionProxy {
  /** The database URL given to startPgPartitionProxy, through this proxy. */
  readonly databaseUrl: string;
  /** From now on no byte passes, on open connections or new ones (accepted, never forwarded). */
  partition(): void;
  /** New connections reach PostgreSQL again (a failover to a reachable host); the ones partition() cut stay silent. */
  failover(): void;
  close(): Promise<void>;
}

/** `databaseUrl`: a URL of the local stack's PostgreSQL (any role); the proxy's URL is the same with its own port. */
export async function startPgPartitionProxy(databaseUrl: string = localDatabaseUrl): Promise<PgPartitionProxy> {
  const sockets = new Set<net.Socket>();
  const pairs = new Set<{ client: net.Socket; server: net.Socket }>();
  let partitioned = false;
  const track = (s: net.Socket): void => {
    sockets.add(s);
    // A cut pair is destroyed only at close(); its errors are expected then.
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  const proxy = net.createServer((client) => {
    track(client);
    if (partitioned) {
      // Accepted by the kernel as a vanished host's address would not be, but never answered:
      // what a client sees of a PostgreSQL host that is frozen or behind a black hole.
      client.pause();
      return;
    }
    const server = net.connect(localStack.postgresPort, '127.0.0.1');
    track(server);
    const pair = { client, server };
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    client.pipe(server).pipe(client);
  });
  return {
    databaseUrl: await listenAsDatabase(proxy, databaseUrl),
    partition() {
      partitioned = true;
      for (const { client, server } of pairs) {
        client.unpipe(server);
        server.unpipe(client);
        client.pause();
        server.pause();
      }
      pairs.clear();
    },
    failover() {
      partitioned = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

/**
 * Starts `proxy` (a TCP proxy to the local stack's PostgreSQL) on a free port of 127.0.0.1 and
 * returns `databaseUrl` (same role and database) through it.
 */
export async function listenAsDatabase(proxy: net.Server, databaseUrl: string = localDatabaseUrl): Promise<string> {
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String((proxy.address() as net.AddressInfo).port);
  return url.toString();
}
