import type { MethodDefinition, Server } from '@grpc/grpc-js';
import { ServerCredentials } from '@grpc/grpc-js';

/** What a method needs of a ts-proto message type to (de)serialise its requests. */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

const identity = (b: Buffer): Buffer => b;

/**
 * A unary method at settings.v1.SettingsService's path whose responses are pre-encoded bytes,
 * sent as they are. Requests are decoded with `request`; without it they stay bytes too.
 */
export function settingsMethod<Req = Buffer>(name: string, request?: MessageCodec<Req>): MethodDefinition<Req, Buffer> {
  const bytes = identity as unknown as (b: Buffer) => Req;
  return {
    path: `/settings.v1.SettingsService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: request ? (m: Req) => Buffer.from(request.encode(m).finish()) : (bytes as unknown as (m: Req) => Buffer),
    requestDeserialize: request ? (b: Buffer) => request.decode(b) : bytes,
    responseSerialize: identity,
    responseDeserialize: identity,
  };
}

/**
 * Binds a benchmark server on 127.0.0.1 (`port` 0: any free one) and reports
 * `{ type: 'ready', port }` to the harness over IPC; a failed bind ends the process.
 */
export function listenAndReportReady(server: Server, name: string, port = 0): void {
  server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
    if (err) {
      process.stderr.write(`${name} failed to bind: ${err.message}\n`);
      process.exit(1);
    }
    process.send?.({ type: 'ready', port: bound });
  });
}
