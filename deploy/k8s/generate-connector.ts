/**
 * Writes overlays/<env>/kafka-connector.generated.yaml for every overlay with a
 * connector-env.json. `--check` only reports files that are out of date (exit 1).
 *
 *   npx tsx deploy/k8s/generate-connector.ts [--check]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { GENERATED_FILE, REPO_ROOT, connectorOverlays, readConnectorEnv, readSharedConnector, renderKafkaConnectorYaml } from './lib/connector';

function main(check: boolean): number {
  const shared = readSharedConnector();
  let stale = 0;
  for (const overlay of connectorOverlays()) {
    const file = join(overlay, GENERATED_FILE);
    const want = renderKafkaConnectorYaml(shared, readConnectorEnv(overlay));
    const have = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (have === want) continue;
    stale++;
    if (check) console.error(`out of date: ${relative(REPO_ROOT, file)}`);
    else {
      writeFileSync(file, want);
      console.log(`wrote ${relative(REPO_ROOT, file)}`);
    }
  }
  return check && stale > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.includes('--check'));
