/** The fanout-gateway's Prometheus metrics (docs/OPERATIONS.md); token verification failures come from libs/core. */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { LATENCY_BUCKETS, PREFIX, verifyMetrics } from "@switchboard/core";

export type GatewayMetrics = ReturnType<typeof gatewayMetrics> & ReturnType<typeof verifyMetrics>;

/** Every metric the gateway exports, on `registry`. */
export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return { ...gatewayMetrics(registry), ...verifyMetrics(registry) };
}

export function gatewayMetrics(registry: Registry) {
  /**
   * Open sockets by wire protocol, kept as plain numbers by the gateway and read when scraped: a labelled Gauge's
   * inc() and dec() hash their labels, on every connect and close.
   */
  const openSockets: Record<string, number> = {};
  return {
    openSockets,
    connections: new Gauge({
      name: `${PREFIX}gateway_connections`,
      help: "Open WebSocket connections, by wire protocol (native, ivs)",
      labelNames: ["protocol"] as const,
      registers: [registry],
      collect() {
        for (const [protocol, n] of Object.entries(openSockets)) this.set({ protocol }, n);
      },
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
    recovered: new Counter({
      name: `${PREFIX}gateway_reconnect_recovered_total`,
      help: "Messages stored while NATS was disconnected, read back from history after the reconnect and delivered",
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
