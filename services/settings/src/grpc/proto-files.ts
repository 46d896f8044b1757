import { existsSync, readFileSync } from 'node:fs';
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

/** Written by `npm run generate` (proto/generate.sh): `buf build --as-file-descriptor-set`. */
const REFLECTION_DESCRIPTORS = 'reflection-descriptors.binpb';

/**
 * What server reflection serves: every .proto file of the API (and grpc.health.v1) as buf
 * compiled it, so names, imports and fully qualified type references are what protoc would
 * produce. proto-loader's rebuilt descriptors (one file per package, relative type names, map
 * entries named after the field) are refused by Go tools such as grpcurl and `buf curl`
 * ("failed to find service ... in schema").
 *
 * @grpc/reflection reads only `fileDescriptorProtos` of each entry of the definition it is
 * given, so the files are handed over as one such entry.
 */
export function loadReflectionFiles(protoRoot: string): protoLoader.PackageDefinition | undefined {
  const path = join(protoRoot, REFLECTION_DESCRIPTORS);
  if (!existsSync(path)) return undefined;
  const files = fileDescriptorProtos(readFileSync(path));
  return { 'settings.reflection': { format: 'Protocol Buffer 3 FileDescriptorProto', type: {}, fileDescriptorProtos: files } } as unknown as protoLoader.PackageDefinition;
}

/**
 * The encoded FileDescriptorProto messages of a FileDescriptorSet (`repeated FileDescriptorProto
 * file = 1`): each is field 1, length-delimited, so the set is split without decoding them.
 */
export function fileDescriptorProtos(set: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= set.length) throw new Error('truncated FileDescriptorSet');
      const b = set[pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
  };
  while (pos < set.length) {
    const tag = varint();
    if (tag !== 0x0a) throw new Error(`unexpected field tag ${tag} in a FileDescriptorSet`);
    const length = varint();
    out.push(set.subarray(pos, pos + length));
    pos += length;
  }
  return out;
}
