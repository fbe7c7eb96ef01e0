/**
 * Load shedding by app (docs/PROTOCOL.md, "Limits"): an app whose limits allow 5 sockets per gateway floods one
 * gateway with 40; 5 stay open, the other 35 are closed at once with 1013 (try again later) and a reason, and another
 * app's socket on the same gateway keeps receiving its room's messages meanwhile. Closing the app's sockets frees
 * its places. Real auth, ingest and gateway processes; the limit comes from the app record through the admin API.
 * Then a request flood on one socket: past SOCKET_REQUEST_BURST (and the refill) requests are answered rate_limited,
 * the socket stays open, and another socket is served meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode, SOCKET_REQUEST_BURST, SOCKET_REQUEST_RATE } from "@switchboard/protocol";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { api } from "./helpers/auth.js";
import { connectTo } from "./helpers/gateway.js";
import { createApp } from "./helpers/history.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";

let cluster: Cluster;
let flooder: { appId: string; key: string };

beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest", "fanout-gateway"] });
  flooder = await createApp(cluster, "flooder");
  const res = await api(cluster.url("auth"), "PATCH", `/v1/apps/${flooder.appId}`, {
    auth: `Bearer ${cluster.adminToken}`,
    body: { limits: { maxConnections: 5 } },
  });
  expect(res.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

/** Resolves with "open" once the greeting arrives, or the close code if the socket is closed first. */
function outcome(sock: TestSocket): Promise<{ state: "open" } | { state: "closed"; code: number; reason: string }> {
  return Promise.race([
    sock.waitFor((f) => f.type === "connected", 20_000, "connected").then(() => ({ state: "open" as const })),
    sock.closed.then((c) => ({ state: "closed" as const, code: c.code, reason: c.reason })),
  ]);
}

describe("per-app connection limit", () => {
  it("keeps 5 of 40 sockets of a flooding app, closes the rest with 1013, and serves another app meanwhile", async () => {
    const room = "calm:room";
    const calm = await connectTo(cluster, await issueToken(cluster, { clientId: "calm" }));
    expect(await calm.request("subscribe", { room })).toMatchObject({ ok: true });

    const tokenRes = await api(cluster.url("auth"), "POST", "/v1/tokens", { auth: `Bearer ${flooder.key}`, body: { clientId: "f" } });
    const token = tokenRes.body["token"] as string;
    // The gateway applies an app record from its watch: wait until a 6th socket is refused before counting.
    const first = await connectTo(cluster, token);
    for (;;) {
      const probes = Array.from({ length: 5 }, () => openSocket(cluster.wsUrl(token)));
      const results = await Promise.all(probes.map(outcome));
      for (const p of probes) p.close();
      await Promise.all(probes.map((p) => p.closed));
      if (results.some((r) => r.state === "closed" && r.code === CloseCode.TRY_AGAIN_LATER)) break;
    }
    first.close();
    await first.closed;

    const flood = Array.from({ length: 40 }, () => openSocket(cluster.wsUrl(token)));
    const published = publishHttp(cluster, room, { event: "e", data: "during the flood" });
    const results = await Promise.all(flood.map(outcome));
    expect((await published).status).toBe(201);
    expect(results.filter((r) => r.state === "open")).toHaveLength(5);
    const refused = results.filter((r) => r.state === "closed");
    expect(refused).toHaveLength(35);
    for (const r of refused)
      expect(r).toEqual({ state: "closed", code: 1013, reason: "this app has 5 sockets on this gateway, its limit; try again later" });

    // The other app's socket got its message and still answers.
    await calm.waitFor((f) => f.type === "message" && f["data"] === "during the flood");
    expect(await calm.request("ping")).toMatchObject({ ok: true });

    // Closing the flood frees the app's places.
    for (const s of flood) s.close();
    await Promise.all(flood.map((s) => s.closed));
    const again = await connectTo(cluster, token);
    expect(await again.request("ping")).toMatchObject({ ok: true });
    again.close();
    calm.close();
  }, 60_000);
});

describe("per-socket request rate", () => {
  it("answers a flood of requests past the burst with rate_limited, keeps the socket, and serves others", async () => {
    const flooder = await connectTo(cluster, await issueToken(cluster, { clientId: "flood" }));
    const other = await connectTo(cluster, await issueToken(cluster, { clientId: "other" }));
    expect(await other.request("subscribe", { room: "calm:2" })).toMatchObject({ ok: true });
    const N = 400;
    const replies = await Promise.all(
      Array.from({ length: N }, () => flooder.request("unsubscribe", { room: "never:subscribed" }, 30_000)),
    );
    const codes = replies.map((r) => (r["error"] as { code: string } | undefined)?.code ?? "ok");
    const limited = codes.filter((c) => c === "rate_limited").length;
    // The bucket lets the burst through (plus what refilled meanwhile); the rest is refused, each with its reason.
    expect(N - limited).toBeGreaterThanOrEqual(SOCKET_REQUEST_BURST);
    expect(limited).toBeGreaterThan(0);
    expect(replies.find((r) => (r["error"] as { code: string } | undefined)?.code === "rate_limited")?.["error"]).toEqual({
      code: "rate_limited",
      message: `over ${SOCKET_REQUEST_RATE} requests per second on this socket (burst ${SOCKET_REQUEST_BURST}); slow down`,
    });
    expect(new Set(codes)).toEqual(new Set(["not_subscribed", "rate_limited"]));
    // Pings are not counted; the socket is open; the other socket still gets its room's messages.
    expect(await flooder.request("ping")).toMatchObject({ ok: true });
    expect((await publishHttp(cluster, "calm:2", { event: "e", data: "after the flood" })).status).toBe(201);
    await other.waitFor((f) => f.type === "message" && f["data"] === "after the flood");
    flooder.close();
    other.close();
  }, 60_000);
});
