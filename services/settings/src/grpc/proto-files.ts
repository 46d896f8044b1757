import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

const SERVICE_PROTO = 'settings/v1/settings_service.proto';

/**
 * The repository's proto/ folder, found by walking up from this module (works from src/ under
 * ts-jest and from dist/ in the image, which must ship proto/ next to the service).
 */
export function findProtoRoot(start = __dirname): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, SERVICE_PROTO))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Descriptors served by reflection: the settings API and grpc.health.v1. */
export function loadReflectionDescriptors(protoRoot: string): protoLoader.PackageDefinition {
  const options = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true };
  return {
    ...protoLoader.loadSync(SERVICE_PROTO, { ...options, includeDirs: [protoRoot] }),
    ...protoLoader.loadSync(healthProtoPath, options),
  };
}
