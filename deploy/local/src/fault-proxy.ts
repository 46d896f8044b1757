import net from 'node:net';
import type { Transform } from 'node:stream';
import { lateBy } from './late-replies';

/**
 * A TCP proxy in front of one local port that injects network faults nothing closes:
 * - chosen connections go silent: no byte passes either way and neither side is closed, what a
 *   client sees of a path a network fault dropped without a FIN or RST (a NAT or firewall that
 *   forgot the flow). Connections are told apart by what their client sent first (e.g. a Redis
 *   `SUBSCRIBE`);
 * - replies arrive late: every chunk the server sends is held for a while, in order (a slow
 *   network or an overloaded host in between, while the server itself is idle).
 */
export interface FaultProxy {
  readonly port: number;
  /** Silences every open connection whose client's first bytes (latin1) match; returns how many. */
  silence(match: (sent: string) => boolean): number;
  /** While on, new connections are accepted and never forwarded (a host behind a black hole). */
  silenceNew(on: boolean): void;
  /** From now on every chunk the server sends reaches its client `ms` later (0: at once again). */
  delayReplies(ms: number): void;
  close(): Promise<void>;
}

/** How much of what a client sends is kept to tell its connection apart. */
const SNIFF_BYTES = 4096;

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const pairs = new Set<{ client: net.Socket; server: net.Socket; late: Transform; sent: string }>();
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    // A silenced pair is destroyed only at close(); its errors are expected then.
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  let silent = false;
  let replyDelayMs = 0;
  const proxy = net.createServer((client) => {
    track(client);
    if (silent) {
      client.pause();
      return;
    }
    const server = net.connect(targetPort, '127.0.0.1');
    track(server);
    const pair = { client, server, late: lateBy(() => replyDelayMs), sent: '' };
    pairs.add(pair);
    const sniff = (chunk: Buffer): void => {
      pair.sent += chunk.toString('latin1');
      if (pair.sent.length >= SNIFF_BYTES) client.off('data', sniff);
    };
    client.on('data', sniff);
    client.on('close', () => pairs.delete(pair));
    client.pipe(server);
    server.pipe(pair.late).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    silence(match) {
      let n = 0;
      for (const pair of [...pairs]) {
        if (!match(pair.sent)) continue;
        pair.client.unpipe(pair.server);
        pair.server.unpipe(pair.late);
        pair.late.unpipe(pair.client);
        pair.client.pause();
        pair.server.pause();
        pairs.delete(pair);
        n += 1;
      }
      return n;
    },
    silenceNew(on) {
      silent = on;
    },
    delayReplies(ms) {
      replyDelayMs = ms;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
