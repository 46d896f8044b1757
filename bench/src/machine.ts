import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { get } from 'node:http';
import { localConnectUrl } from '@settings/shared';
import { postgresVersion } from './db';
import { benchRedis, redisInfo } from './redis-util';

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  kernel: string;
  loadAverageAtStart: number[];
}

export interface Versions {
  node: string;
  postgres: string;
  redis: string;
  kafka: string;
  debezium: string;
  h2load: string;
  grpcJs: string;
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  let os = 'unknown';
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {
    /* not Linux */
  }
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  return {
    nproc: Number(run('nproc', [])) || cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os,
    kernel: run('uname', ['-r']),
    loadAverageAtStart: loadavg,
  };
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve) => {
    get(url, { timeout: 3000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          resolve(undefined);
        }
      });
    }).on('error', () => resolve(undefined));
  });
}

export async function versions(): Promise<Versions> {
  const redis = benchRedis();
  let redisVersion = 'unknown';
  try {
    redisVersion = (await redisInfo(redis, 'server')).get('redis_version') ?? redisVersion;
  } finally {
    redis.disconnect();
  }
  const connect = (await getJson(`${localConnectUrl}/`)) as { version?: string } | undefined;
  const plugins = (await getJson(`${localConnectUrl}/connector-plugins`)) as Array<{ class: string; version: string }> | undefined;
  const debezium = plugins?.find((p) => p.class.includes('PostgresConnector'))?.version ?? 'unknown';
  const h2 = /nghttp2\/([\d.]+)/.exec(run('h2load', ['--version']))?.[1] ?? 'unknown';
  let grpcJs = 'unknown';
  try {
    grpcJs = (JSON.parse(readFileSync(require.resolve('@grpc/grpc-js/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    /* not resolvable */
  }
  return {
    node: process.version,
    postgres: await postgresVersion(),
    redis: redisVersion,
    kafka: connect?.version ?? 'unknown',
    debezium,
    h2load: h2,
    grpcJs,
  };
}
