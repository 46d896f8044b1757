import { Server, ServerCredentials, type ChannelOptions, type handleServerStreamingCall, type ServerWritableStream, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { SettingsServiceService, type SettingsServiceServer } from '@settings/api';
import type { Logger } from '@settings/shared';
import { HealthImplementation } from 'grpc-health-check';
import { acceptingPreEncoded } from './pre-encoded-response';
import { findProtoRoot, loadReflectionDescriptors, loadReflectionFiles } from './proto-files';
import { rejectingUndecodable } from './request-decoding';

export const SETTINGS_SERVICE_NAME = 'settings.v1.SettingsService';

export function grpcServerOptions(maxMessageBytes: number, maxConcurrentStreams: number): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: one client connection cannot have more calls in
    // flight here; further calls wait in the client instead of piling up in this process.
    'grpc.max_concurrent_streams': maxConcurrentStreams,
    // Ping clients every minute so dead connections (e.g. a vanished pod behind NAT) are closed.
    // grpc-js servers have no ping-abuse policy option; clients should keep their pings >= 10 s.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    // Long-lived connections pin clients to one replica; recycling them rebalances after scale-out.
    'grpc.max_connection_age_ms': 30 * 60_000,
    'grpc.max_connection_age_grace_ms': 30_000,
    // No grpc.max_connection_idle_ms: grpc-js implements it with a 'close' listener added to and
    // removed from every stream and a timer refresh when a connection goes quiet, ~0.6 µs of a
    // cached Get's ~36 µs (CPU profile, issue 11). An idle connection is cheap to keep; the age
    // limit above still recycles it, and keepalive pings close dead ones.
    // Channelz counts every call and message (closures and clock reads per call) for a channelz
    // service this server does not register, so nothing could read them: off (a cached Get's
    // CPU per call is a few percent lower; bench read-path, interleaved A/B).
    'grpc.enable_channelz': 0,
  };
}

export interface GrpcServer {
  readonly server: Server;
  readonly health: HealthImplementation;
  readonly port: number;
  /** Ends every open grpc.health.v1 Watch call (shutdown, after NOT_SERVING was sent to them). */
  endHealthWatches(): void;
}

export async function startGrpcServer(
  impl: SettingsServiceServer,
  opts: { host: string; port: number; maxMessageBytes: number; maxConcurrentStreams: number; log: Logger },
): Promise<GrpcServer> {
  const server = new Server(grpcServerOptions(opts.maxMessageBytes, opts.maxConcurrentStreams));
  const protoRoot = findProtoRoot();
  const descriptors = protoRoot ? loadReflectionDescriptors(protoRoot) : undefined;
  // Cached Gets answer with the entry's protobuf bytes as they are (pre-encoded-response.ts);
  // undecodable requests (e.g. an int64 beyond 2^53) become INVALID_ARGUMENT, not INTERNAL.
  server.addService(acceptingPreEncoded(rejectingUndecodable(SettingsServiceService, descriptors)), impl);
  const health = new HealthImplementation({ '': 'NOT_SERVING', [SETTINGS_SERVICE_NAME]: 'NOT_SERVING' });
  const healthWatches = new Set<ServerWritableStream<unknown, unknown>>();
  health.addToServer(trackingHealthWatches(server, healthWatches));
  const reflection = protoRoot ? loadReflectionFiles(protoRoot) : undefined;
  if (reflection) {
    new ReflectionService(reflection).addToServer(server);
  } else {
    opts.log.warn('proto/ folder or its reflection descriptors not found: server reflection disabled');
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  const endHealthWatches = (): void => {
    for (const call of healthWatches) call.end();
    healthWatches.clear();
  };
  return { server, health, port, endHealthWatches };
}

/**
 * The server as grpc-health-check's addToServer sees it (it only calls addService), its Watch
 * calls recorded in `open`. That Watch never ends its call, only forgets it when the client
 * cancels: one open (grpc-go and grpc-java clients can health-check over Watch) held
 * tryShutdown until the grace period ran out, on every roll-out.
 */
function trackingHealthWatches(server: Server, open: Set<ServerWritableStream<unknown, unknown>>): Server {
  const addService = (service: ServiceDefinition, impl: UntypedServiceImplementation): void => {
    const watch = impl.watch as handleServerStreamingCall<unknown, unknown>;
    server.addService(service, {
      ...impl,
      watch: (call: ServerWritableStream<unknown, unknown>) => {
        open.add(call);
        call.on('cancelled', () => open.delete(call));
        watch(call);
      },
    });
  };
  // A stand-in with the one method addToServer uses, not a whole Server.
  return { addService } as unknown as Server;
}

/**
 * The overall status (`""`: the process serves gRPC, what liveness and start-up probes ask) and
 * the service's together: SERVING once started, NOT_SERVING from the start of shutdown.
 */
export function setServing(health: HealthImplementation, serving: boolean): void {
  const status = serving ? 'SERVING' : 'NOT_SERVING';
  health.setStatus('', status);
  health.setStatus(SETTINGS_SERVICE_NAME, status);
}

/**
 * The service's status alone (what the readiness probe asks): NOT_SERVING while the replica
 * should get no calls but needs no restart, such as a database schema behind this release. The
 * overall status stays SERVING: a liveness probe on it would otherwise restart every replica
 * into CrashLoopBackOff until the migration lands, and restart them all at once after a restore.
 */
export function setReady(health: HealthImplementation, ready: boolean): void {
  health.setStatus(SETTINGS_SERVICE_NAME, ready ? 'SERVING' : 'NOT_SERVING');
}
