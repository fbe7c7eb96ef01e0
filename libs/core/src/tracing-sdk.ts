/**
 * The OpenTelemetry Node SDK, loaded only by startTracing (tracing.ts) when OTEL_EXPORTER_OTLP_ENDPOINT is set: a
 * tracer provider with a batch span processor and the OTLP/HTTP (JSON) exporter, registered as the global one.
 * The exporter and the processor read the standard variables themselves (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY, …), the sampler comes
 * from OTEL_TRACES_SAMPLER (default: parent-based, always on), and OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME
 * add to or override the resource. Versions are the 2.x SDK line, the last that supports Node 20.
 */
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

export interface Sdk {
  shutdown(): Promise<void>;
}

export function startSdk(serviceName: string): Sdk {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  provider.register();
  return { shutdown: () => provider.shutdown() };
}
