import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Repository root: deploy/local/src (or dist/src) → three or four levels up, found by package.json workspaces. */
export const repoRoot = resolve(__dirname, existsSync(resolve(__dirname, '../../../package.json')) ? '../../..' : '../../../..');

/**
 * Everything the local stack writes (data, logs, pid files) lives under one git-ignored
 * folder, so `rm -rf .stack` is a full reset and nothing leaks into the machine's own
 * PostgreSQL or Redis.
 */
export const stateDir = process.env.STACK_STATE_DIR ?? join(repoRoot, '.stack');

export const jarsDir = join(repoRoot, 'deploy/local/target');
export const kafkaLibs = join(jarsDir, 'kafka-libs');
export const connectPlugins = join(jarsDir, 'plugins');
export const configDir = join(repoRoot, 'deploy/local/config');
export const connectorConfigFile = join(repoRoot, 'deploy/debezium/settings-connector.json');

export function componentDir(name: string): string {
  const dir = join(stateDir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function logFile(name: string): string {
  return join(componentDir(name), `${name}.log`);
}
