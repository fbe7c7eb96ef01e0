/**
 * NATS reconnects heal quiet rooms (docs/OPERATIONS.md, "NATS reconnects"): a gateway whose NATS connection drops
 * misses the republished messages stored meanwhile. Its NATS connection goes through a TCP proxy that the test cuts
 * while publish-ingest (connected straight to nats-server) stores messages; after the reconnect no further message
 * arrives, and every socket must still get what it missed at once, exactly once, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceHandle } from "@switchboard/dev";
import { publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { connectTo, metricValue, offsetsOf, signLocal, waitForOffset } from "./helpers/gateway.js";
import { startNatsProxy, type NatsProxy } from "./helpers/proxy.js";

let started: { cluster: Cluster; proxy: NatsProxy } | undefined;
let gw: ServiceHandle;

beforeAll(async () => {
  const cluster = await startCluster({ services: ["auth", "publish-ingest", "history"] });
  const proxy = await startNatsProxy(cluster.nats.port);
  started = { cluster, proxy };
  gw = await cluster.add("fanout-gateway", "fanout-gateway", { NATS_URL: proxy.url });
}, 120_000);

afterAll(async () => {
  await started?.cluster.close();
  await started?.proxy.close();
});

function setup(): { cluster: Cluster; proxy: NatsProxy } {
  if (started === undefined) throw new Error("the cluster did not start");
  return started;
}

async function publish(c: Cluster, room: string, data: number): Promise<number> {
  const res = await publishHttp(c, room, { event: "m", data });
  expect(res.status).toBe(201);
  return ((await res.json()) as { offset: number }).offset;
}

/** Polls the gateway's /metrics (the counter is the event) until `name` reaches `value`. */
async function untilMetric(name: string, value: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await metricValue(gw, name)) !== value) {
    if (Date.now() > deadline)
      throw new Error(`${name} did not reach ${value}: ${await metricValue(gw, name)}\n${gw.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a NATS reconnect", () => {
  it("delivers what rooms missed at once, with no further message, exactly once and in order", { timeout: 90_000 }, async () => {
    const { cluster: c, proxy } = setup();
    const both = await connectTo(c, await signLocal(c, { clientId: "both" }), gw);
    const onlyA = await connectTo(c, await signLocal(c, { clientId: "a" }), gw);
    const fresh = await connectTo(c, await signLocal(c, { clientId: "fresh" }), gw);
    expect(await both.request("subscribe", { room: "quiet:a" })).toMatchObject({ ok: true });
    expect(await both.request("subscribe", { room: "quiet:b" })).toMatchObject({ ok: true });
    expect(await onlyA.request("subscribe", { room: "quiet:a" })).toMatchObject({ ok: true });

    const a1 = await publish(c, "quiet:a", 1);
    const b1 = await publish(c, "quiet:b", 1);
    await waitForOffset(both, "quiet:a", a1);
    await waitForOffset(both, "quiet:b", b1);
    await waitForOffset(onlyA, "quiet:a", a1);
    // A room that has delivered nothing live since its socket subscribed catches up from the socket's start.
    await publish(c, "quiet:c", 1);
    const subC = await fresh.request("subscribe", { room: "quiet:c" });
    const c0 = (subC["result"] as { offset: number }).offset;

    proxy.cut();
    await untilMetric("switchboard_nats_disconnects_total", 1);
    const a2 = await publish(c, "quiet:a", 2);
    const a3 = await publish(c, "quiet:a", 3);
    const b2 = await publish(c, "quiet:b", 2);
    const c1 = await publish(c, "quiet:c", 2);
    proxy.heal();

    await waitForOffset(both, "quiet:a", a3);
    await waitForOffset(both, "quiet:b", b2);
    await waitForOffset(onlyA, "quiet:a", a3);
    await waitForOffset(fresh, "quiet:c", c1);
    expect(await metricValue(gw, "switchboard_nats_reconnects_total")).toBe(1);
    await untilMetric("switchboard_gateway_reconnect_recovered_total", 4);

    // Live again: one more message per room proves no duplicate of the recovered ones came before it.
    const a4 = await publish(c, "quiet:a", 4);
    const b3 = await publish(c, "quiet:b", 3);
    const c2 = await publish(c, "quiet:c", 3);
    await waitForOffset(both, "quiet:a", a4);
    await waitForOffset(both, "quiet:b", b3);
    await waitForOffset(onlyA, "quiet:a", a4);
    await waitForOffset(fresh, "quiet:c", c2);
    expect(offsetsOf(both, "quiet:a")).toEqual([a1, a2, a3, a4]);
    expect(offsetsOf(both, "quiet:b")).toEqual([b1, b2, b3]);
    expect(offsetsOf(onlyA, "quiet:a")).toEqual([a1, a2, a3, a4]);
    expect(offsetsOf(fresh, "quiet:c")).toEqual([c1, c2]);
    expect(c1).toBeGreaterThan(c0);
    for (const s of [both, onlyA, fresh]) s.close();
  });
});
