/**
 * The read-path reference: a grpc-js server with the same service path whose handler returns a
 * fixed, pre-encoded GetAccountSettings response at once. Requests are not even decoded
 * (identity serializers), so everything it costs is HTTP/2 + gRPC framing in grpc-js: the floor
 * any Node gRPC service pays. Started as a child process by the read-path scenario:
 *   EMPTY_RESPONSE_FILE=<raw protobuf bytes> node empty-server.js
 * Reports `{ type: 'ready', port }` over IPC.
 */
import { readFileSync } from 'node:fs';
import { Server, type ServiceDefinition, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { listenAndReportReady, settingsMethod } from './settings-method';

const response = readFileSync(process.env.EMPTY_RESPONSE_FILE ?? '');

const definition: ServiceDefinition = { GetAccountSettings: settingsMethod('GetAccountSettings') };

const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
server.addService(definition, {
  GetAccountSettings: (_call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, response),
});
listenAndReportReady(server, 'empty server', Number(process.env.EMPTY_PORT ?? 0));
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
