/**
 * The read-path reference: a grpc-js server with the same service path whose handler returns a
 * fixed, pre-encoded GetAccountSettings response at once. Requests are not even decoded
 * (identity serializers), so everything it costs is HTTP/2 + gRPC framing in grpc-js: the floor
 * any Node gRPC service pays. Started as a child process by the read-path scenario:
 *   EMPTY_RESPONSE_FILE=<raw protobuf bytes> node empty-server.js
 * Reports `{ type: 'ready', port }` over IPC.
 */
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type ServiceDefinition, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';

const response = readFileSync(process.env.EMPTY_RESPONSE_FILE ?? '');
const identity = (b: Buffer): Buffer => b;

const definition: ServiceDefinition = {
  GetAccountSettings: {
    path: '/settings.v1.SettingsService/GetAccountSettings',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
server.addService(definition, {
  GetAccountSettings: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, response),
});
server.bindAsync(`127.0.0.1:${process.env.EMPTY_PORT ?? '0'}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`empty server failed to bind: ${err.message}\n`);
    process.exit(1);
  }
  process.send?.({ type: 'ready', port });
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
