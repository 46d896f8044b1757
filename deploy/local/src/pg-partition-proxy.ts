import net from 'node:net';
import { localDatabaseUrl, localStack } from '@settings/shared';
import { startFaultProxy } from './fault-proxy';

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
  const proxy = await startFaultProxy(localStack.postgresPort);
  return {
    databaseUrl: databaseUrlAt(proxy.port, databaseUrl),
    partition() {
      // Accepted by the kernel as a vanished host's address would not be, but never answered:
      // what a client sees of a PostgreSQL host that is frozen or behind a black hole.
      proxy.silenceNew(true);
      proxy.silence(() => true);
    },
    failover() {
      proxy.silenceNew(false);
    },
    close: () => proxy.close(),
  };
}

/**
 * Starts `proxy` (a TCP proxy to the local stack's PostgreSQL) on a free port of 127.0.0.1 and
 * returns `databaseUrl` (same role and database) through it.
 */
export async function listenAsDatabase(proxy: net.Server, databaseUrl: string = localDatabaseUrl): Promise<string> {
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return databaseUrlAt((proxy.address() as net.AddressInfo).port, databaseUrl);
}

/** `databaseUrl` (same role and database) at 127.0.0.1:`port`. */
function databaseUrlAt(port: number, databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}
