import { request } from 'node:http';

/** GET on 127.0.0.1; status 0 and an empty body when nothing answers in time (not listening yet, or hung). */
export function httpGet(port: number, path: string, timeoutMs = 1_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/** HTTP status of a GET, or 0 when nothing answers. */
export async function httpStatus(port: number, path: string, timeoutMs = 1_000): Promise<number> {
  return (await httpGet(port, path, timeoutMs)).status;
}
