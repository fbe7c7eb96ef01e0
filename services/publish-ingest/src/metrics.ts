/** publish-ingest's Prometheus metrics (docs/OPERATIONS.md); the shared HTTP metrics come from libs/http. */
import { Counter, Histogram, type Registry } from "prom-client";
import { LATENCY_BUCKETS, PREFIX } from "@switchboard/core";

export type IngestMetrics = ReturnType<typeof ingestMetrics>;

export function ingestMetrics(registry: Registry) {
  return {
    published: new Counter({
      name: `${PREFIX}ingest_messages_total`,
      help: "Messages offered to JetStream by publish-ingest, by result (stored, duplicate, failed)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    storeLatency: new Histogram({
      name: `${PREFIX}ingest_store_duration_seconds`,
      help: "Time from JetStream publish to its acknowledgement",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
