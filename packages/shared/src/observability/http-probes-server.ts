import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ProbeHandlers {
  /** Liveness: the process should be restarted when this is false. */
  live(): boolean;
  /** Readiness: traffic (or partitions) should go elsewhere when this is false. */
  ready(): { ready: boolean; detail?: Record<string, unknown> };
}

/**
 * A small HTTP server for Prometheus (`/metrics`) and Kubernetes probes (`/healthz`,
 * `/readyz`), on its own port so scraping never competes with the gRPC/consumer traffic.
 */
export async function startProbesServer(port: number, registry: Registry, probes: ProbeHandlers, host = '0.0.0.0'): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/metrics')) {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (url.startsWith('/healthz')) {
      const ok = probes.live();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ live: ok }));
      return;
    }
    if (url.startsWith('/readyz')) {
      const r = probes.ready();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
