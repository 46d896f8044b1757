import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/**
 * JSON logs, one line per event, with the service name on every line, and the trace_id and
 * span_id of the active span when a line is written inside a traced operation (the field names
 * of @opentelemetry/instrumentation-pino). A mixin rather than that instrumentation: it works
 * whenever pino was loaded, and with tracing off the API has no active span and adds nothing.
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: activeTraceFields,
  };
  // `destination`: where the lines go instead of stdout (a test reading what an operator would).
  return destination ? pino(options, destination) : pino(options);
}

function activeTraceFields(): Record<string, string> {
  const span = trace.getActiveSpan()?.spanContext();
  if (span === undefined || !trace.isSpanContextValid(span)) return {};
  return { trace_id: span.traceId, span_id: span.spanId, trace_flags: `0${span.traceFlags.toString(16)}`.slice(-2) };
}

export type { Logger };
