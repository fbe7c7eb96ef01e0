/**
 * OpenTelemetry traces (docs/OPERATIONS.md, "Reading a trace"). Services call only the helpers here, which use only
 * `@opentelemetry/api`; the Node SDK (tracing-sdk.ts) is imported and started by runService only when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set. With it unset no SDK module is loaded and every helper returns `undefined`
 * after one boolean check, so the hot paths (ingest's publish, the gateway's fan-out) allocate nothing per message.
 *
 * One trace follows a message: ingest's HTTP server span → its JetStream publish span (producer), whose W3C
 * `traceparent` goes into the stored message's NATS headers (JetStream's republish keeps application headers) →
 * each gateway's fan-out span (consumer), a child of that `traceparent`. No span per socket.
 *
 * The `traceparent` is written and read here by hand (W3C Trace Context, version 00) rather than through the global
 * propagator: the NATS header must be `traceparent` whatever OTEL_PROPAGATORS says, and the fan-out path reads one
 * header instead of building a carrier.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";

export type { Span } from "@opentelemetry/api";

let on = false;
let tracer: Tracer | undefined;

/** True once the SDK is started (OTEL_EXPORTER_OTLP_ENDPOINT set). The hot paths check this and nothing else. */
export function tracingOn(): boolean {
  return on;
}

export interface TracingHandle {
  /** The collector's origin (scheme, host, port: never credentials), for the boot log line. */
  readonly collector: string;
  /** Exports the spans still buffered, then stops the SDK. */
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK (OTLP/HTTP exporter, batch processor, `service.name` = `switchboard-<service>`) when `endpoint` is
 * set; the exporter reads the standard OTEL_* variables itself. Resolves with nothing, loading nothing, otherwise.
 */
export async function startTracing(service: string, endpoint: string | undefined): Promise<TracingHandle | undefined> {
  if (endpoint === undefined || endpoint === "") return undefined;
  const { startSdk } = await import("./tracing-sdk.js");
  const sdk = startSdk(`switchboard-${service}`);
  tracer = trace.getTracer("switchboard");
  on = true;
  return {
    collector: new URL(endpoint).origin,
    shutdown: async () => {
      on = false;
      await sdk.shutdown();
    },
  };
}

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const INVALID_TRACE = "00000000000000000000000000000000";
const INVALID_SPAN = "0000000000000000";

/** The remote parent a W3C `traceparent` names, or undefined when absent or malformed (never an error). */
export function parseTraceparent(value: string | string[] | undefined | null): SpanContext | undefined {
  if (typeof value !== "string") return undefined;
  const m = TRACEPARENT_RE.exec(value);
  const [, traceId, spanId, flags] = m ?? [];
  if (traceId === undefined || spanId === undefined || flags === undefined || traceId === INVALID_TRACE || spanId === INVALID_SPAN)
    return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
}

/** The W3C `traceparent` of a span, to carry to the next hop (the NATS headers of the stored message). */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${c.traceFlags & TraceFlags.SAMPLED ? "01" : "00"}`;
}

function contextOf(parent: Span | SpanContext | undefined): Context {
  if (parent === undefined) return ROOT_CONTEXT;
  return "spanContext" in parent ? trace.setSpan(ROOT_CONTEXT, parent) : trace.setSpanContext(ROOT_CONTEXT, parent);
}

/** Starts a span when tracing is on (else undefined): `parent` is a local span or a remote one from a traceparent. */
export function startSpan(name: string, kind: SpanKind, parent: Span | SpanContext | undefined, attributes?: Attributes): Span | undefined {
  if (!on || tracer === undefined) return undefined;
  return tracer.startSpan(name, { kind, ...(attributes !== undefined ? { attributes } : {}) }, contextOf(parent));
}

/** Ends a span, marking it failed with the error when there is one. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (span === undefined) return;
  if (err !== undefined) {
    const error = err instanceof Error ? err : new Error(JSON.stringify(err));
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}

/** Runs `fn` inside an internal span (or bare when tracing is off); the span ends when its promise settles. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  const span = startSpan(name, SpanKind.INTERNAL, undefined, attributes);
  if (span === undefined) return fn(undefined);
  try {
    const out = await fn(span);
    endSpan(span);
    return out;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

/** The synchronous form of inSpan. */
export function inSpanSync<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => T): T {
  const span = startSpan(name, SpanKind.INTERNAL, undefined, attributes);
  if (span === undefined) return fn(undefined);
  try {
    const out = fn(span);
    endSpan(span);
    return out;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

export { SpanKind };
