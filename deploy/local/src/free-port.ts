import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports handed out come from this band, below Linux's ephemeral range (32768-60999 by
 * default) and clear of the stack's own ports (local-stack-endpoints.ts). A port the kernel
 * assigns for `listen(0)` is an ephemeral one: between our release and the child's listen,
 * any outbound socket of a busy run (Kafka, Redis, PostgreSQL clients; thousands in the chaos
 * suite) may take it as its source port, and the child then exits with EADDRINUSE (seen in CI:
 * the settings service of a chaos scenario failed to start).
 */
const BAND_LOW = 30_000;
const BAND_HIGH = 32_767;
const ATTEMPTS = 50;

/** Ports this process handed out already: two callers in one run never get the same one. */
const handedOut = new Set<number>();

function ephemeralRangeLow(): number | undefined {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(low);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined; // not Linux: no band is known to be safe
  }
}

/** Binds `port` (0: the kernel picks) on 127.0.0.1, releases it, and answers the port, or undefined when taken. */
function tryPort(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err)));
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : undefined;
      srv.close(() => resolve(bound));
    });
  });
}

/**
 * A free TCP port on 127.0.0.1 for a child process to listen on: bound and released, picked
 * at random outside the ephemeral range where the machine's range allows it.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralRangeLow();
  if (low !== undefined && low > BAND_HIGH) {
    for (let i = 0; i < ATTEMPTS; i++) {
      const candidate = BAND_LOW + Math.floor(Math.random() * (BAND_HIGH - BAND_LOW + 1));
      if (handedOut.has(candidate)) continue;
      const port = await tryPort(candidate);
      if (port !== undefined) {
        handedOut.add(port);
        return port;
      }
    }
  }
  // No safe band here (or it is full): the kernel's choice, with the race described above.
  for (;;) {
    const port = await tryPort(0);
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
