/**
 * Prometheus metrics (DESIGN §9). Every metric name lives here; no label carries a room, client or key, so series
 * stay bounded. Each process has its own registry with the default process metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const PREFIX = "switchboard_";

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  // prom-client's *_active_*_total gauges break the Prometheus naming rule (`promtool check metrics`: "_total" is
  // for counters); the same figures stay available without the suffix (by type).
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"])
    registry.removeSingleMetric(PREFIX + name);
  return registry;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function httpMetrics(registry: Registry, service: string) {
  return {
    requests: new Counter({
      name: `${PREFIX}http_requests_total`,
      help: `HTTP requests answered by ${service}, by route and status`,
      labelNames: ["route", "status"] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: `${PREFIX}http_request_duration_seconds`,
      help: `HTTP request latency of ${service}, by route`,
      labelNames: ["route"] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}

export function authMetrics(registry: Registry) {
  return {
    tokensIssued: new Counter({
      name: `${PREFIX}auth_tokens_issued_total`,
      help: "Tokens issued by the auth service",
      registers: [registry],
    }),
  };
}

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

/** Token verification failures, counted wherever tokens are verified (gateway, history). */
export function verifyMetrics(registry: Registry) {
  return {
    verifyFailures: new Counter({
      name: `${PREFIX}auth_verify_failures_total`,
      help: "Tokens refused, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
  };
}

export function gatewayMetrics(registry: Registry) {
  return {
    connections: new Gauge({
      name: `${PREFIX}gateway_connections`,
      help: "Open WebSocket connections",
      registers: [registry],
    }),
    subscriptions: new Gauge({
      name: `${PREFIX}gateway_subscriptions`,
      help: "Room subscriptions held by sockets",
      registers: [registry],
    }),
    rooms: new Gauge({
      name: `${PREFIX}gateway_rooms`,
      help: "Rooms with a live NATS subscription on this gateway",
      registers: [registry],
    }),
    delivered: new Counter({
      name: `${PREFIX}gateway_messages_delivered_total`,
      help: "Message pushes written to sockets",
      registers: [registry],
    }),
    dropped: new Counter({
      name: `${PREFIX}gateway_messages_dropped_total`,
      help: "Messages not delivered, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: `${PREFIX}gateway_publish_to_socket_seconds`,
      help: "Time from the message timestamp (ingest) to its push on this gateway",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    closes: new Counter({
      name: `${PREFIX}gateway_closes_total`,
      help: "Socket closes, by close code",
      labelNames: ["code"] as const,
      registers: [registry],
    }),
    requests: new Counter({
      name: `${PREFIX}gateway_requests_total`,
      help: "Protocol requests, by type and result (ok or error code)",
      labelNames: ["type", "result"] as const,
      registers: [registry],
    }),
  };
}
