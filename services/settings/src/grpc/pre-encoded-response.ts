import type { ServiceDefinition } from '@grpc/grpc-js';

/**
 * A response message that is already protobuf bytes — a cache entry's payload, which is exactly
 * the encoded resource — written to the wire without decoding and re-encoding it.
 */
class PreEncodedResponse {
  constructor(readonly bytes: Buffer) {}
}

/**
 * The response of a method whose response is the message itself (Get): its cached bytes when
 * there are some, else the message. Typed as the message because grpc-js' handler types know
 * only the message type; the service definition built by `acceptingPreEncoded` serializes both.
 */
export function messageOrCachedBytes<T>(found: { readonly value: T; readonly payload?: Buffer }): T {
  // The cast is the seam described above: only acceptingPreEncoded's serializers ever see it.
  return found.payload ? (new PreEncodedResponse(found.payload) as unknown as T) : found.value;
}

/** `definition` with every response serializer passing pre-encoded responses through as they are. */
export function acceptingPreEncoded<D extends ServiceDefinition>(definition: D): D {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const serialize = method.responseSerialize;
    out[name] = { ...method, responseSerialize: (value: unknown) => (value instanceof PreEncodedResponse ? value.bytes : serialize(value)) };
  }
  return out as D;
}
