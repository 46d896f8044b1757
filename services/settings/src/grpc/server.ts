import { Server, ServerCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { SettingsServiceService, type SettingsServiceServer } from '@settings/api';
import type { Logger } from '@settings/shared';
import { HealthImplementation } from 'grpc-health-check';
import { findProtoRoot, loadReflectionDescriptors } from './proto-files';

export const SETTINGS_SERVICE_NAME = 'settings.v1.SettingsService';

export function grpcServerOptions(maxMessageBytes: number): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    // Ping clients every minute so dead connections (e.g. a vanished pod behind NAT) are closed.
    // grpc-js servers have no ping-abuse policy option; clients should keep their pings >= 10 s.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    // Long-lived connections pin clients to one replica; recycling them rebalances after scale-out.
    'grpc.max_connection_age_ms': 30 * 60_000,
    'grpc.max_connection_age_grace_ms': 30_000,
    'grpc.max_connection_idle_ms': 5 * 60_000,
  };
}

export interface GrpcServer {
  readonly server: Server;
  readonly health: HealthImplementation;
  readonly port: number;
}

export async function startGrpcServer(
  impl: SettingsServiceServer,
  opts: { host: string; port: number; maxMessageBytes: number; log: Logger },
): Promise<GrpcServer> {
  const server = new Server(grpcServerOptions(opts.maxMessageBytes));
  server.addService(SettingsServiceService, impl);
  const health = new HealthImplementation({ '': 'NOT_SERVING', [SETTINGS_SERVICE_NAME]: 'NOT_SERVING' });
  health.addToServer(server);
  const protoRoot = findProtoRoot();
  if (protoRoot) {
    new ReflectionService(loadReflectionDescriptors(protoRoot)).addToServer(server);
  } else {
    opts.log.warn('proto/ folder not found: server reflection disabled');
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return { server, health, port };
}

export function setServing(health: HealthImplementation, serving: boolean): void {
  const status = serving ? 'SERVING' : 'NOT_SERVING';
  health.setStatus('', status);
  health.setStatus(SETTINGS_SERVICE_NAME, status);
}
