import type { ServiceDefinition } from '@grpc/grpc-js';
import type { MessageTypeDefinition, PackageDefinition } from '@grpc/proto-loader';
import { invalidArgument, SettingsError, type FieldViolation } from '../errors';

/**
 * A request whose bytes did not decode. grpc-js answers a throwing request deserializer with
 * INTERNAL "Error deserializing request", which blames the server for the caller's input; so
 * the deserializer returns this instead and the call chain (unary.ts) rejects it with
 * INVALID_ARGUMENT after authentication, like any other bad request.
 */
export class UndecodableRequest {
  constructor(readonly error: SettingsError) {}
}

const INT64_TYPES = new Set(['TYPE_INT64', 'TYPE_UINT64', 'TYPE_SINT64', 'TYPE_FIXED64', 'TYPE_SFIXED64']);
const MAX_DEPTH = 32;

interface FieldDescriptor {
  name: string;
  type: string;
  typeName: string;
  label: string;
}

/** The parts of google.protobuf.DescriptorProto this file reads (proto-loader's `type`). */
interface MessageDescriptor {
  field: FieldDescriptor[];
}

/**
 * `definition` with every unary and server-streaming request deserializer returning an UndecodableRequest instead of
 * throwing. The generated ts-proto code decodes int64 (e.g. Timestamp.seconds) into a JS number
 * and throws beyond Number.MAX_SAFE_INTEGER; such a field is found again with the proto schema
 * (`schema`, the descriptors reflection serves) and named in the field violation.
 */
export function rejectingUndecodable<D extends ServiceDefinition>(definition: D, schema: PackageDefinition | undefined): D {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    // Unary methods (unary.ts) and server-streaming ones (WatchSettings, grpc/watch) reject the
    // placeholder after authentication; a client stream would see it mid-stream, so methods
    // with a request stream (none today) keep grpc-js' behaviour.
    if (method.requestStream) {
      out[name] = method;
      continue;
    }
    const deserialize = method.requestDeserialize;
    const requestType = schema ? requestTypeName(schema, method.path) : undefined;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return deserialize(bytes);
        } catch (err) {
          return new UndecodableRequest(decodeFailure(bytes, err, schema, requestType));
        }
      },
    };
  }
  return out as D;
}

function decodeFailure(bytes: Buffer, err: unknown, schema: PackageDefinition | undefined, requestType: string | undefined): SettingsError {
  const what = requestType ?? 'request';
  if (schema && requestType) {
    const violations: FieldViolation[] = [];
    try {
      const message = (schema[requestType] as MessageTypeDefinition<unknown, unknown>).deserialize(bytes) as Record<string, unknown>;
      collectUnsafeInt64(schema, requestType, message, '', violations, 0);
    } catch {
      // Not even protobuf: reported below without a field.
    }
    if (violations.length > 0) return invalidArgument(violations);
  }
  const reason = err instanceof Error ? err.message : String(err);
  // Every INVALID_ARGUMENT carries a BadRequest (settings_service.proto): the field that failed
  // is not known here (truncated bytes, a bad length, a string that is not UTF-8), so the request.
  return new SettingsError('INVALID_ARGUMENT', `request is not a valid ${what} message (${reason})`, [{ field: 'request', description: `not a valid ${what} message: ${reason}` }]);
}

/** Walks a message decoded with int64 as decimal strings; records every int64 outside ±(2^53−1). */
function collectUnsafeInt64(schema: PackageDefinition, typeName: string, message: Record<string, unknown>, prefix: string, out: FieldViolation[], depth: number): void {
  const descriptor = (schema[typeName] as { type?: MessageDescriptor } | undefined)?.type;
  if (!descriptor || depth > MAX_DEPTH) return;
  for (const field of descriptor.field) {
    const value = message[field.name];
    if (value === undefined || value === null) continue;
    const elements = field.label === 'LABEL_REPEATED' && Array.isArray(value) ? value.map((v, i) => [`${prefix}${field.name}[${i}]`, v] as const) : [[`${prefix}${field.name}`, value] as const];
    for (const [path, element] of elements) {
      if (INT64_TYPES.has(field.type) && !Number.isSafeInteger(Number(element))) {
        out.push({ field: path, description: `${String(element)} is out of range: 64-bit integers must be within ±9007199254740991 (2^53−1) here` });
      } else if (field.type === 'TYPE_MESSAGE' && typeof element === 'object') {
        const nested = resolveTypeName(schema, typeName, field.typeName);
        if (nested) collectUnsafeInt64(schema, nested, element as Record<string, unknown>, `${path}.`, out, depth + 1);
      }
    }
  }
}

/** Protobuf name resolution: `name` relative to the scope of `from`, innermost scope first. */
function resolveTypeName(schema: PackageDefinition, from: string, name: string): string | undefined {
  if (name.startsWith('.')) return name.slice(1) in schema ? name.slice(1) : undefined;
  for (let scope = from; scope !== ''; scope = scope.includes('.') ? scope.slice(0, scope.lastIndexOf('.')) : '') {
    const candidate = `${scope}.${name}`;
    if (candidate in schema) return candidate;
  }
  return name in schema ? name : undefined;
}

/** `/settings.v1.SettingsService/GetAccountSettings` → `settings.v1.GetAccountSettingsRequest`. */
function requestTypeName(schema: PackageDefinition, path: string): string | undefined {
  const [, service, method] = /^\/(.+)\/([^/]+)$/.exec(path) ?? [];
  if (!service || !method) return undefined;
  const methods = schema[service] as Record<string, { requestType?: { type?: { name?: string } } }> | undefined;
  const name = methods?.[method]?.requestType?.type?.name;
  return name ? resolveTypeName(schema, service, name) : undefined;
}
