/**
 * NATS connection metrics (docs/OPERATIONS.md, "NATS reconnects"): every service counts its NATS disconnects and
 * reconnects in its own registry. A real nats-server is restarted under the four services and each counter moves
 * by exactly one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitReady } from "@switchboard/dev";
import { startCluster, type Cluster } from "./helpers/cluster.js";

let started: Cluster | undefined;
beforeAll(async () => {
  started = await startCluster();
}, 120_000);
afterAll(async () => {
  await started?.close();
});
function cluster(): Cluster {
  if (started === undefined) throw new Error("the cluster did not start");
  return started;
}

interface Counts {
  disconnects: number;
  reconnects: number;
}

async function counts(url: string): Promise<Counts> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string): number => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
    if (m === null) throw new Error(`${url}/metrics has no ${name}`);
    return Number(m[1]);
  };
  return { disconnects: read("switchboard_nats_disconnects_total"), reconnects: read("switchboard_nats_reconnects_total") };
}

/** Polls every service's /metrics (the counters are the event) until `pred` holds for all of them. */
async function until(pred: (c: Counts) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const all = await Promise.all([...cluster().services.values()].map((s) => counts(s.url)));
    if (all.every(pred)) return;
    if (Date.now() > deadline) throw new Error(`not every service counted ${what}: ${JSON.stringify(all)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("NATS connection metrics", () => {
  it("count one disconnect and one reconnect in every service when nats-server restarts", async () => {
    for (const svc of cluster().services.values()) expect(await counts(svc.url)).toEqual({ disconnects: 0, reconnects: 0 });

    await cluster().nats.stop();
    await until((c) => c.disconnects === 1, "the disconnect");
    for (const svc of cluster().services.values()) expect(await counts(svc.url)).toEqual({ disconnects: 1, reconnects: 0 });

    await cluster().nats.start();
    await until((c) => c.reconnects === 1, "the reconnect");
    for (const svc of cluster().services.values()) {
      await waitReady(svc);
      expect(await counts(svc.url)).toEqual({ disconnects: 1, reconnects: 1 });
    }
  }, 90_000);
});
