import net from 'node:net';

/**
 * A TCP proxy in front of one local port that can make chosen connections go silent: no byte
 * passes either way and neither side is closed, what a client sees of a path a network fault
 * dropped without a FIN or RST (a NAT or firewall that forgot the flow). Connections are told
 * apart by what their client sent first (e.g. a Redis `SUBSCRIBE`).
 */
export interface SilencingProxy {
  readonly port: number;
  /** Silences every open connection whose client's first bytes (latin1) match; returns how many. */
  silence(match: (sent: string) => boolean): number;
  /** While on, new connections are accepted and never forwarded (a host behind a black hole). */
  silenceNew(on: boolean): void;
  close(): Promise<void>;
}

/** How much of what a client sends is kept to tell its connection apart. */
const SNIFF_BYTES = 4096;

export async function startSilencingProxy(targetPort: number): Promise<SilencingProxy> {
  const pairs = new Set<{ client: net.Socket; server: net.Socket; sent: string }>();
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    // A silenced pair is destroyed only at close(); its errors are expected then.
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  let silent = false;
  const proxy = net.createServer((client) => {
    track(client);
    if (silent) {
      client.pause();
      return;
    }
    const server = net.connect(targetPort, '127.0.0.1');
    track(server);
    const pair = { client, server, sent: '' };
    pairs.add(pair);
    const sniff = (chunk: Buffer): void => {
      pair.sent += chunk.toString('latin1');
      if (pair.sent.length >= SNIFF_BYTES) client.off('data', sniff);
    };
    client.on('data', sniff);
    client.on('close', () => pairs.delete(pair));
    client.pipe(server).pipe(client);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as net.AddressInfo).port,
    silence(match) {
      let n = 0;
      for (const pair of [...pairs]) {
        if (!match(pair.sent)) continue;
        pair.client.unpipe(pair.server);
        pair.server.unpipe(pair.client);
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
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  };
}
