/**
 * OpenTelemetry traces for a service: a server span per gRPC call, client spans for its
 * PostgreSQL queries and Redis commands, consumer spans for its Kafka batches.
 *
 * Load order matters. The instrumentations patch @grpc/grpc-js, pg, ioredis and kafkajs when
 * they are required, so this module must start before anything requires them. It therefore
 * imports nothing of this package but the logger (pino and the OpenTelemetry API, neither
 * instrumented), and a service main imports it alone, through `@settings/shared/tracing`,
 * calls startTracing(), and only then loads the rest of the service with a dynamic import. The
 * alternative, a `--require` preload flag, would have to be repeated in the image, the
 * manifests, the local runner and every harness that starts a service; a first import keeps
 * the decision in one place per service.
 *
 * Off unless an OTLP endpoint is configured: startTracing() then starts nothing and returns
 * undefined. What remains is the no-op @opentelemetry/api: the logger's mixin asks it for the
 * active span and gets none.
 */
import { diag, DiagLogLevel, context, propagation, trace, type DiagLogFunction } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { createLogger } from './logger';

export interface TracingOptions {
  /** service.name, unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise. */
  readonly serviceName: string;
  /** Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Where finished spans go instead of the OTLP exporter; given, tracing starts whatever the
   * environment says. Tests pass a SimpleSpanProcessor over an InMemorySpanExporter.
   */
  readonly spanProcessors?: SpanProcessor[];
}

/** Started tracing: shutdown() flushes what is buffered and puts the no-op API back. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * How long a drain waits for the last spans. An unreachable collector would otherwise hold the
 * exit for the exporter's retries (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s by default).
 */
const FLUSH_ON_SHUTDOWN_MS = 2_000;

/** gRPC methods called by probes and tools, not by callers: a span each would be noise. */
const UNTRACED_GRPC_METHODS = ['Check', 'Watch', 'ServerReflectionInfo'];

/**
 * Starts tracing if OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set
 * (and OTEL_SDK_DISABLED is not `true`), or span processors are given; otherwise starts
 * nothing. The exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself (endpoint,
 * headers, timeout); the provider reads OTEL_TRACES_SAMPLER(_ARG).
 */
export function startTracing(opts: TracingOptions): Tracing | undefined {
  const env = opts.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (opts.spanProcessors === undefined && (!endpoint || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true')) return undefined;

  reportSdkProblemsToLog(opts.serviceName);
  const provider = new NodeTracerProvider({
    // Later wins: the default (SDK name/version), ours, then what the environment sets.
    resource: defaultResource()
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName }))
      .merge(detectResources({ detectors: [envDetector] })),
    // The batch processor exports in the background; a failed or slow export is reported
    // through diag (below) and dropped, never thrown into a call.
    spanProcessors: opts.spanProcessors ?? [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // The global tracer provider, the AsyncLocalStorage context manager and the W3C
  // traceparent propagator: a caller's trace continues into the server span.
  provider.register();
  const disableInstrumentations = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_GRPC_METHODS }),
      // Only inside a traced operation: background work (health probes, the invalidation
      // tracking connection, the staleness auditor) would otherwise start a trace per command.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new KafkaJsInstrumentation(),
    ],
  });

  return {
    async shutdown() {
      disableInstrumentations();
      try {
        await Promise.race([provider.shutdown(), new Promise((resolve) => setTimeout(resolve, FLUSH_ON_SHUTDOWN_MS).unref())]);
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
        diag.disable();
      }
    },
  };
}

/**
 * The SDK reports failures (an unreachable collector, a rejected export) through `diag`, which
 * is silent by default: route its warnings and errors into the service's JSON log instead.
 */
function reportSdkProblemsToLog(serviceName: string): void {
  const log = createLogger(serviceName, 'warn').child({ component: 'opentelemetry' });
  const to =
    (level: 'warn' | 'error'): DiagLogFunction =>
    (message, ...args) =>
      log[level]({ details: args.map(describe) }, message);
  const ignore: DiagLogFunction = () => undefined;
  diag.setLogger({ error: to('error'), warn: to('warn'), info: ignore, debug: ignore, verbose: ignore }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

function describe(value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message } : value;
}
