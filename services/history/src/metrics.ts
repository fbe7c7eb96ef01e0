/** The history service's Prometheus metrics (docs/OPERATIONS.md); the shared HTTP metrics come from libs/http. */
import { Counter, Gauge, type Registry } from "prom-client";
import { SwitchboardError, unavailable } from "@switchboard/protocol";
import { PREFIX } from "@switchboard/core";

export type HistoryMetrics = ReturnType<typeof historyMetrics>;

export function historyMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: `${PREFIX}history_requests_total`,
      help: "History reads, by source (http, nats) and result (ok, error)",
      labelNames: ["source", "result"] as const,
      registers: [registry],
    }),
    cacheReads: new Counter({
      name: `${PREFIX}history_cache_reads_total`,
      help: "History page reads by how the room cache served them: hit (from memory), cold (no cached room), stale (a removal since the room was loaded), behind (the cache did not catch up in time), retention (the app's count trims the room)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    cacheRooms: new Gauge({ name: `${PREFIX}history_cache_rooms`, help: "Rooms held in the history read cache", registers: [registry] }),
    cacheBytes: new Gauge({
      name: `${PREFIX}history_cache_bytes`,
      help: "Estimated bytes held by the history read cache",
      registers: [registry],
    }),
    cacheEvictions: new Counter({
      name: `${PREFIX}history_cache_evictions_total`,
      help: "Rooms dropped from the history read cache, by reason (budget, rooms, stale, failed)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
  };
}

/** A read over either transport: counts the request and maps unexpected failures to `unavailable` (retry). */
export async function countedRead<T>(metrics: HistoryMetrics, source: "http" | "nats", work: () => Promise<T>): Promise<T> {
  try {
    const out = await work();
    metrics.requests.inc({ source, result: "ok" });
    return out;
  } catch (err) {
    metrics.requests.inc({ source, result: "error" });
    if (err instanceof SwitchboardError) throw err;
    throw unavailable("JetStream could not be read; retry", err);
  }
}
