import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { configDir, kafkaLibs } from './state-dir';
import { StartupError } from './wait-until';

/** Java 17+ binary: JAVA_HOME if set, else the default `java` on PATH. */
export function javaBin(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

export function ensureJars(component: string): void {
  if (!existsSync(kafkaLibs) || readdirSync(kafkaLibs).length === 0) {
    throw new StartupError(component, `no jars in ${kafkaLibs}: run "mvn -B -q -f deploy/local/pom.xml package" (npm start does this)`);
  }
}

/**
 * JVM flags for a 2-core, shared machine: a small heap (the brief is ~512 MB per JVM) and an
 * exit on OOM instead of a half-dead process that still holds its port.
 */
export function jvmArgs(heapMb: number, mainClass: string, args: string[]): string[] {
  return [
    `-Xms${Math.min(128, heapMb)}m`,
    `-Xmx${heapMb}m`,
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(configDir, 'log4j2.properties')}`,
    '-cp',
    `${kafkaLibs}/*`,
    mainClass,
    ...args,
  ];
}
