/**
 * The first end-to-end path through four real service processes and a real nats-server: token from auth, a
 * WebSocket on the gateway, an HTTP publish stored by JetStream, the push with its offset, and history.
 * Plus the bad-input cases of the foundation issue.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signToken, type TokenClaims } from "@switchboard/protocol";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { openSocket } from "./helpers/ws.js";

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.close();
});

describe("one message end to end", () => {
  it("delivers an HTTP publish to a subscribed socket with its offset, and history returns it", async () => {
    const token = await issueToken(cluster, { clientId: "alice" });
    const sock = openSocket(cluster.wsUrl(token));
    const connected = await sock.waitFor((f) => f.type === "connected");
    expect(connected).toMatchObject({ type: "connected", clientId: "alice", sessionExpiresAt: null });
    expect(typeof connected["connectionId"]).toBe("string");
    expect(connected["heartbeatMs"]).toBe(30_000);

    const sub = await sock.request("subscribe", { room: "chat:lobby" });
    expect(sub).toEqual({ type: "reply", id: 1, ok: true, result: { room: "chat:lobby", offset: 0, recovered: false } });

    const res = await publishHttp(cluster, "chat:lobby", { event: "greeting", data: { text: "hello" } });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: "m_1", offset: 1 });

    const push = await sock.waitFor((f) => f.type === "message");
    expect(push).toMatchObject({ type: "message", room: "chat:lobby", event: "greeting", data: { text: "hello" }, id: "m_1", offset: 1 });
    expect(typeof push["timestamp"]).toBe("number");

    const hist = await fetch(`${cluster.url("history")}/v1/rooms/chat:lobby/messages`, {
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    expect(hist.status).toBe(200);
    const page = (await hist.json()) as { messages: Array<Record<string, unknown>>; next: string | null };
    expect(page.next).toBeNull();
    expect(page.messages).toEqual([
      { room: "chat:lobby", id: "m_1", offset: 1, event: "greeting", data: { text: "hello" }, timestamp: push["timestamp"] },
    ]);
    sock.close();
  });

  it("keeps rooms of one room name apart per app and answers every service's health endpoints", async () => {
    for (const name of ["auth", "publish-ingest", "history", "fanout-gateway"] as const) {
      const base = cluster.url(name);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${base}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toContain("\nprocess_cpu_seconds_total{");
      expect(text).not.toContain("switchboard_process_");
    }
  });
});

describe("bad input", () => {
  it("closes a socket with an invalid token with 4001", async () => {
    const sock = openSocket(cluster.wsUrl("not.a.token"));
    expect((await sock.closed).code).toBe(4001);
  });

  it("closes a socket with an expired token with 4002", async () => {
    const [appKey, secret] = cluster.devKey.split(":") as [string, string];
    const [appId, keyId] = appKey.split(".") as [string, string];
    const now = Math.floor(Date.now() / 1000);
    const claims: TokenClaims = { aud: "switchboard", iat: now - 120, exp: now - 60, jti: "expired-1", permissions: { "*": ["*"] } };
    const token = await signToken(claims, { appId, keyId, secret });
    const sock = openSocket(cluster.wsUrl(token));
    expect((await sock.closed).code).toBe(4002);
  });

  it("refuses an invalid room name over HTTP (400) and over the socket (invalid_room)", async () => {
    const res = await publishHttp(cluster, "bad.room", { event: "x", data: 1 });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_room");

    const sock = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId: "bob" })));
    const reply = await sock.request("subscribe", { room: "has space" });
    expect(reply).toMatchObject({ ok: false, error: { code: "invalid_room" } });
    sock.close();
  });

  it("answers malformed JSON with 400 and an error body", async () => {
    const res = await fetch(`${cluster.url("publish-ingest")}/v1/rooms/ok/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json" },
      body: '{"event":',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("bad_request");
    expect(body.error.message).toMatch(/JSON/);
  });

  it("answers a malformed frame with bad_request and keeps the socket open", async () => {
    const sock = openSocket(cluster.wsUrl(await issueToken(cluster)));
    await sock.waitFor((f) => f.type === "connected");
    sock.ws.send("{nope");
    const reply = await sock.waitFor((f) => f.type === "reply");
    expect(reply).toMatchObject({ id: null, ok: false, error: { code: "bad_request" } });
    expect(await sock.request("ping")).toMatchObject({ ok: true, result: {} });
    sock.close();
  });

  it("refuses a publish without a valid API key with 401", async () => {
    const res = await fetch(`${cluster.url("publish-ingest")}/v1/rooms/ok/messages`, {
      method: "POST",
      headers: { authorization: "Bearer app1.key1:wrong", "content-type": "application/json" },
      body: JSON.stringify({ event: "x" }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });
});

describe("JetStream unavailable", () => {
  it("answers 503 with Retry-After, never a 2xx, while nats-server is down, and recovers after", async () => {
    await cluster.nats.kill();
    try {
      const res = await publishHttp(cluster, "outage", { event: "x", data: 1 });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unavailable");
      // A key no service has seen yet cannot be checked either: 503 (retry), not 401 and not 500.
      const unseen = await fetch(`${cluster.url("history")}/v1/rooms/outage/messages`, {
        headers: { authorization: "Bearer app1.unseen:0123456789012345678901234567890123456789abc" },
      });
      expect(unseen.status).toBe(503);
      expect(unseen.headers.get("retry-after")).toBe("1");
    } finally {
      await cluster.nats.start();
    }
    // The store survived the kill. Retry as a client should, with an idempotency key: a 503 whose store did land
    // (acknowledgement lost in the reconnect) must not become a second copy.
    let status = 0;
    for (let i = 0; i < 100 && status !== 201; i++) {
      const res = await publishHttp(cluster, "outage", { event: "x", data: 2, idempotencyKey: "outage-retry" });
      status = res.status;
      if (status !== 201) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(201);
    // history reconnects on its own schedule: until then it answers 503 + Retry-After, as it should.
    let hist = await fetch(`${cluster.url("history")}/v1/rooms/outage/messages`, {
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    for (let i = 0; i < 100 && hist.status === 503; i++) {
      expect(hist.headers.get("retry-after")).toBe("1");
      await new Promise((r) => setTimeout(r, 100));
      hist = await fetch(`${cluster.url("history")}/v1/rooms/outage/messages`, { headers: { authorization: `Bearer ${cluster.devKey}` } });
    }
    expect(hist.status).toBe(200);
    const page = (await hist.json()) as { messages: Array<{ data: unknown }> };
    expect(page.messages.map((m) => m.data)).toEqual([2]);
  });
});
