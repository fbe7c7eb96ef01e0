/**
 * docs/OPERATIONS.md: every service serves Prometheus text that `promtool check metrics` accepts, with the contract's
 * metric names and no room or client labels.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, publishStored, startCluster, type Cluster } from "./helpers/cluster.js";
import { openSocket } from "./helpers/ws.js";

const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
  // Some traffic so histograms and labelled counters have series.
  const sock = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId: "m" })));
  await sock.request("subscribe", { room: "metrics" });
  await publishStored(cluster, "metrics", { event: "e", data: 1 });
  await sock.waitFor((f) => f.type === "message");
  sock.close();
});
afterAll(async () => {
  await cluster?.close();
});

const EXPECTED: Record<string, string[]> = {
  "fanout-gateway": [
    "switchboard_gateway_connections",
    "switchboard_gateway_subscriptions",
    "switchboard_gateway_messages_delivered_total",
    "switchboard_gateway_messages_dropped_total",
    "switchboard_gateway_publish_to_socket_seconds",
    "switchboard_gateway_closes_total",
    "switchboard_auth_verify_failures_total",
  ],
  auth: ["switchboard_auth_tokens_issued_total", "switchboard_http_requests_total"],
  "publish-ingest": [
    "switchboard_ingest_messages_total",
    "switchboard_ingest_store_duration_seconds",
    "switchboard_http_request_duration_seconds",
  ],
  history: ["switchboard_history_requests_total"],
};

describe.skipIf(PROMTOOL === undefined)("metrics", () => {
  for (const [service, names] of Object.entries(EXPECTED)) {
    it(`${service} /metrics passes promtool check metrics and names the contract's metrics`, async () => {
      const text = await (await fetch(`${cluster.url(service as never)}/metrics`)).text();
      const check = spawnSync(PROMTOOL!, ["check", "metrics"], { input: text, encoding: "utf8" });
      expect(check.stdout + check.stderr).toBe("");
      expect(check.status).toBe(0);
      for (const name of names) expect(text).toContain(`# TYPE ${name} `);
      expect(text).not.toMatch(/\{[^}]*\b(room|clientId|client_id|connectionId)=/);
    });
  }
});
