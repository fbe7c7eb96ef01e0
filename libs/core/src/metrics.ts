/**
 * Prometheus metrics (docs/OPERATIONS.md): the per-process registry with the default process metrics, and the metrics
 * more than one service shares (HTTP, token verification). Each service defines its own in its metrics.ts, with the
 * prefix and buckets from here. No label carries a room, client or key, so series stay bounded.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const PREFIX = "switchboard_";

export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // Unprefixed on purpose: the standard names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, …) are what
  // community Node.js dashboards and alerts query; Prometheus' `job`/our `service` label tells the services apart.
  collectDefaultMetrics({ register: registry });
  // prom-client's *_active_*_total gauges break the Prometheus naming rule (`promtool check metrics`: "_total" is
  // for counters); the same figures stay available without the suffix (by type).
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"])
    registry.removeSingleMetric(name);
  return registry;
}

/** Latency histogram buckets (seconds) shared by every service, so latencies compare across them. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

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

/**
 * The NATS connection's losses and recoveries, counted by the runtime from the client's status events (every service
 * has them). A steady climb means a flapping connection: each disconnect is up to a few hundred ms of 503s (ingest),
 * paused deliveries (gateway) and not-ready.
 */
export function natsConnectionMetrics(registry: Registry) {
  return {
    disconnects: new Counter({
      name: `${PREFIX}nats_disconnects_total`,
      help: "Times this process lost its NATS connection",
      registers: [registry],
    }),
    reconnects: new Counter({
      name: `${PREFIX}nats_reconnects_total`,
      help: "Times this process got its NATS connection back after losing it",
      registers: [registry],
    }),
  };
}
