import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { summarize, type LatencySummary } from './stats';

export interface H2loadOptions {
  port: number;
  path: string;
  /** File holding the framed gRPC request body (sent with every request). */
  bodyFile: string;
  /** Timed run; or `requests` for a fixed number of requests (no warm-up). */
  durationSeconds?: number;
  requests?: number;
  warmupSeconds: number;
  clients: number;
  /** Max concurrent streams per client. */
  streams: number;
  /** Per-request log (tab-separated: start µs, status, duration µs); deleted after parsing. */
  logFile?: string;
  /** Requests per second per client (open loop); default: as fast as possible. */
  rps?: number;
  /** Extra request headers, `name: value` (e.g. an authorization header). */
  headers?: readonly string[];
  /**
   * Timed runs: called once when h2load starts measuring, i.e. its warm-up (`--warm-up-time`,
   * sent in the same run over the same connections, not counted in its requests) is over — h2load
   * prints "Main benchmark duration is started" then. A counter read here (a process's metrics)
   * covers the measured requests only. The result waits for the promise it returns.
   */
  onMeasuring?: () => Promise<void> | void;
}

export interface H2loadResult {
  rps: number;
  requests: number;
  succeeded: number;
  failed: number;
  errored: number;
  /**
   * Response DATA bytes per request: 5 + response length when every call returned one message.
   * Exact only for `requests` runs: timed runs count warm-up traffic in the bytes, not the requests.
   */
  dataBytesPerRequest: number;
  latencyMs: LatencySummary;
}

export function h2load(o: H2loadOptions): Promise<H2loadResult> {
  const args = [
    '-t',
    '1',
    '-c',
    String(o.clients),
    '-m',
    String(o.streams),
    ...(o.requests !== undefined ? ['-n', String(o.requests)] : ['-D', String(o.durationSeconds ?? 1)]),
    ...(o.warmupSeconds > 0 && o.requests === undefined ? [`--warm-up-time=${o.warmupSeconds}`] : []),
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    ...(o.headers ?? []).flatMap((h) => ['-H', h]),
    '-d',
    o.bodyFile,
    ...(o.logFile ? [`--log-file=${o.logFile}`] : []),
    ...(o.rps ? [`--rps=${o.rps}`] : []),
    `http://127.0.0.1:${o.port}${o.path}`,
  ];
  return new Promise((resolve, reject) => {
    let measuring: Promise<void> | undefined;
    const child = execFile('h2load', args, { maxBuffer: 16 * 1024 * 1024, timeout: ((o.durationSeconds ?? 0) + o.warmupSeconds + 120) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`h2load failed: ${err.message}\n${stdout}\n${stderr}`));
      Promise.resolve(measuring)
        .then(() => resolve(parse(stdout, o.logFile)))
        .catch((e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
    });
    const onMeasuring = o.onMeasuring;
    if (onMeasuring && o.requests === undefined) {
      let tail = '';
      child.stdout?.on('data', (chunk: string | Buffer) => {
        if (measuring) return;
        tail = (tail + chunk.toString()).slice(-256);
        if (MEASURING_STARTED.test(tail)) measuring = Promise.resolve().then(onMeasuring);
      });
    }
  });
}

/** What h2load prints (stdout, flushed) when its warm-up is over and measuring starts (nghttp2 h2load.cc, warmup_timeout_cb). */
export const MEASURING_STARTED = /Main benchmark duration is started/;

function parse(stdout: string, logFile: string | undefined): H2loadResult {
  const fin = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout);
  const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  const data = /traffic: .* \((\d+)\) data/.exec(stdout);
  if (!fin || !req) throw new Error(`unexpected h2load output:\n${stdout}`);
  const durations: number[] = [];
  if (logFile) {
    const text = readFileSync(logFile, 'utf8');
    for (const line of text.split('\n')) {
      const cols = line.split('\t');
      if (cols.length >= 3 && cols[1] === '200') durations.push(Number(cols[2]) / 1000);
    }
    rmSync(logFile, { force: true });
  }
  const done = Number(req[2]);
  return {
    rps: Number(fin[1]),
    requests: done,
    succeeded: Number(req[3]),
    failed: Number(req[4]),
    errored: Number(req[5]),
    dataBytesPerRequest: data && done > 0 ? Math.round(Number(data[1]) / done) : Number.NaN,
    latencyMs: summarize(durations),
  };
}

/** Fixed-rate background load (one connection, a few streams), without a per-request log. */
export function h2loadRate(o: { port: number; path: string; bodyFile: string; durationSeconds: number; rps: number }): Promise<H2loadResult> {
  return h2load({ ...o, warmupSeconds: 0, clients: 1, streams: 4 });
}
