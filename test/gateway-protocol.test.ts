/**
 * The gateway's protocol (docs/PROTOCOL.md) on one gateway, through real sockets against real nats-server and service
 * processes: event filters, unsubscribe, client publish with stamping and idempotency, permissions, resume (also
 * while messages keep arriving), recovered:false, limits, Origin allow-list, token lifecycle, slow consumer, and the
 * SIGTERM drain. Live gap healing is in services/fanout-gateway/src/rooms.test.ts: nats-server 2.9 cannot be made to
 * drop one republished message on purpose (republish cannot be changed on a live stream).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Subjects, encodeBody, type NatsConnection } from "@switchboard/core";
import WebSocket from "ws";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { connectTo, jetstream, metricValue, natsClient, offsetsOf, signLocal, waitForOffset } from "./helpers/gateway.js";
import { ingest } from "./helpers/ingest.js";
import { openSocket } from "./helpers/ws.js";

const RETENTION = 200;
let cluster: Cluster;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startCluster({
    env: { SWITCHBOARD_RETENTION_MAX_MESSAGES: String(RETENTION), SWITCHBOARD_ALLOWED_ORIGINS: "app1=https://good.example" },
  });
  nc = await natsClient(cluster);
});

afterAll(async () => {
  await nc?.close();
  await cluster?.close();
});

async function publish(room: string, event: string, data: unknown): Promise<number> {
  const res = await publishHttp(cluster, room, { event, data });
  expect(res.status).toBe(201);
  return ((await res.json()) as { offset: number }).offset;
}

/** Stores a message straight into JetStream (as ingest would), returning its offset. */
async function store(room: string, event: string, data: unknown): Promise<number> {
  const body = encodeBody({ event, dataJson: JSON.stringify(data), timestamp: Date.now() });
  return (await jetstream(nc).publish(Subjects.room("app1", room), body)).seq;
}

describe("subscriptions", () => {
  it("starts at the room's newest offset even after its newest message was deleted, and replays nothing old", async () => {
    const room = "f:del-newest";
    const warm = await connectTo(cluster, await issueToken(cluster));
    await warm.request("subscribe", { room });
    const o1 = await publish(room, "e", 1);
    const o2 = await publish(room, "e", 2);
    await waitForOffset(warm, room, o2);
    const del = await ingest(cluster, "DELETE", `/v1/rooms/${room}/messages/m_${o2.toString(36)}`);
    expect(del.status).toBe(200);
    const late = await connectTo(cluster, await issueToken(cluster));
    // The room's position is the newest offset it delivered live (o2, deleted since): never 0, never earlier.
    expect(await late.request("subscribe", { room })).toMatchObject({ ok: true, result: { room, offset: o2, recovered: false } });
    const o3 = await publish(room, "e", 3);
    await waitForOffset(late, room, o3);
    expect(offsetsOf(late, room)).toEqual([o3]);
    // A room no socket watched: the position comes from the stream, where o1 is now the newest message.
    const cold = "f:del-newest-cold";
    const c1 = await publish(cold, "e", 1);
    const c2 = await publish(cold, "e", 2);
    expect((await ingest(cluster, "DELETE", `/v1/rooms/${cold}/messages/m_${c2.toString(36)}`)).status).toBe(200);
    expect(await late.request("subscribe", { room: cold })).toMatchObject({
      ok: true,
      result: { room: cold, offset: c1, recovered: false },
    });
    expect(o1).toBeLessThan(o2);
    warm.close();
    late.close();
  });

  it("delivers only the filtered events, everything without a filter, and nothing after unsubscribe", async () => {
    const token = await issueToken(cluster, { clientId: "filter" });
    const a = await connectTo(cluster, token);
    const b = await connectTo(cluster, token);
    expect(await a.request("subscribe", { room: "f:1", events: ["a", "c.d"] })).toMatchObject({
      ok: true,
      result: { room: "f:1", recovered: false },
    });
    expect(await b.request("subscribe", { room: "f:1" })).toMatchObject({ ok: true });
    const o1 = await publish("f:1", "a", 1);
    const o2 = await publish("f:1", "b", 2);
    const o3 = await publish("f:1", "c.d", 3);
    await waitForOffset(b, "f:1", o3);
    await waitForOffset(a, "f:1", o3);
    expect(offsetsOf(a, "f:1")).toEqual([o1, o3]);
    expect(offsetsOf(b, "f:1")).toEqual([o1, o2, o3]);

    expect(await a.request("unsubscribe", { room: "f:1" })).toEqual({ type: "reply", id: 2, ok: true, result: {} });
    expect(await a.request("unsubscribe", { room: "f:1" })).toMatchObject({ ok: false, error: { code: "not_subscribed" } });
    const o4 = await publish("f:1", "a", 4);
    await waitForOffset(b, "f:1", o4);
    await a.request("ping");
    expect(offsetsOf(a, "f:1")).toEqual([o1, o3]);
    a.close();
    b.close();
  });

  it("refuses rooms and capabilities the token does not grant", async () => {
    const token = await signLocal(cluster, { clientId: "narrow", permissions: { "open:*": ["subscribe"] } });
    const s = await connectTo(cluster, token);
    expect(await s.request("subscribe", { room: "closed" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    expect(await s.request("subscribe", { room: "open:x", presence: true })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    expect(await s.request("publish", { room: "open:x", event: "e", data: 1 })).toMatchObject({
      ok: false,
      error: { code: "unauthorized" },
    });
    expect(await s.request("history", { room: "open:x" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    expect(await s.request("subscribe", { room: "open:x" })).toMatchObject({ ok: true });
    s.close();
  });
});

describe("client publish", () => {
  it("acks after storage with the pushed offset, stamps clientId, attributes and connectionData, honours idempotencyKey", async () => {
    const token = await issueToken(cluster, { clientId: "stamp", attributes: { team: "red" }, data: "seat 4" });
    const s = await connectTo(cluster, token);
    await s.request("subscribe", { room: "pub:1" });
    const ack = await s.request("publish", { room: "pub:1", event: "say", data: { t: "hi" }, idempotencyKey: "k1" });
    expect(ack["ok"]).toBe(true);
    const { id, offset } = ack["result"] as { id: string; offset: number };
    expect(id).toBe(`m_${offset.toString(36)}`);
    const push = await waitForOffset(s, "pub:1", offset);
    expect(push).toEqual({
      type: "message",
      room: "pub:1",
      id,
      offset,
      event: "say",
      data: { t: "hi" },
      timestamp: push["timestamp"],
      clientId: "stamp",
      attributes: { team: "red" },
      connectionData: "seat 4",
    });
    const again = await s.request("publish", { room: "pub:1", event: "say", data: { t: "hi" }, idempotencyKey: "k1" });
    expect(again["result"]).toEqual({ id, offset });
    const next = await s.request("publish", { room: "pub:1", event: "say", data: 2 });
    const nextOffset = (next["result"] as { offset: number }).offset;
    await waitForOffset(s, "pub:1", nextOffset);
    expect(offsetsOf(s, "pub:1")).toEqual([offset, nextOffset]);
    s.close();
  });

  it("answers rate_limited past the burst of 100 and keeps the socket open", async () => {
    const s = await connectTo(cluster, await issueToken(cluster, { clientId: "rate" }));
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: 130 }, (_, i) => s.request("publish", { room: "rate:1", event: "e", data: i }, 15_000)),
    );
    const elapsedS = (performance.now() - started) / 1000;
    const ok = replies.filter((r) => r["ok"] === true).length;
    const limited = replies.filter((r) => (r["error"] as { code?: string } | undefined)?.code === "rate_limited").length;
    // 100 from the burst plus at most what 50/s refills between the first frame and the last reply (a few ms on a
    // quiet machine, more under load).
    expect(ok).toBeGreaterThanOrEqual(100);
    expect(ok).toBeLessThanOrEqual(100 + Math.floor(50 * elapsedS) + 1);
    expect(limited).toBeGreaterThanOrEqual(130 - 100 - Math.floor(50 * elapsedS) - 1);
    expect(ok + limited).toBe(130);
    expect(await s.request("ping")).toMatchObject({ ok: true });
    s.close();
  });
});

describe("resume", () => {
  it("replays since {offset} then goes live, and rewinds with since {last}", async () => {
    const offsets = [];
    for (let i = 0; i < 5; i++) offsets.push(await publish("res:1", "e", i));
    const s = await connectTo(cluster, await issueToken(cluster, { clientId: "res" }));
    const r = await s.request("subscribe", { room: "res:1", since: { offset: offsets[1] } });
    expect(r["result"]).toEqual({ room: "res:1", offset: offsets[4], recovered: true });
    await waitForOffset(s, "res:1", offsets[4]!);
    expect(offsetsOf(s, "res:1")).toEqual(offsets.slice(2));
    const t = await connectTo(cluster, await issueToken(cluster, { clientId: "res" }));
    const r2 = await t.request("subscribe", { room: "res:1", since: { last: 2 } });
    expect(r2["result"]).toEqual({ room: "res:1", offset: offsets[4], recovered: true });
    const live = await publish("res:1", "e", 5);
    await waitForOffset(t, "res:1", live);
    expect(offsetsOf(t, "res:1")).toEqual([offsets[3], offsets[4], live]);
    s.close();
    t.close();
  });

  it("resumes with no gap and no duplicate while messages keep arriving", async () => {
    const room = "res:load";
    const token = await issueToken(cluster, { clientId: "loader" });
    const TOTAL = 150;
    const published: number[] = [];
    let sock = await connectTo(cluster, token);
    await sock.request("subscribe", { room });
    const received: number[] = [];
    const publisher = (async () => {
      for (let i = 0; i < TOTAL; i++) published.push(await store(room, "tick", i));
    })();
    // Reconnect three times while the publisher runs, each time from the last offset this client saw.
    for (let round = 0; round < 3; round++) {
      const target = (round + 1) * 30;
      // Some messages on this socket, or all there are (a fast publisher may be done before the last reconnect).
      const current = sock;
      const some = current.waitFor(() => offsetsOf(current, room).length >= 10, 10_000, "some messages");
      const all = publisher.then(async () => {
        const last = published[TOTAL - 1]!;
        if (!received.includes(last)) await waitForOffset(current, room, last);
      });
      // Whichever settles second is not awaited: keep its rejection from going unhandled.
      some.catch(() => undefined);
      all.catch(() => undefined);
      await Promise.race([some, all]);
      while (published.length < target) await new Promise((r) => setImmediate(r));
      received.push(...offsetsOf(sock, room));
      sock.close();
      await sock.closed;
      const last = received[received.length - 1]!;
      sock = await connectTo(cluster, token);
      const reply = await sock.request("subscribe", { room, since: { offset: last } });
      expect(reply).toMatchObject({ ok: true, result: { room, recovered: true } });
    }
    await publisher;
    // The last message may have reached the socket before the last reconnect (a fast publisher): nothing more comes.
    if (!received.includes(published[TOTAL - 1]!)) await waitForOffset(sock, room, published[TOTAL - 1]!);
    received.push(...offsetsOf(sock, room));
    expect(received).toEqual(published);
    sock.close();
  });

  it("answers recovered:false when the room's retention dropped what the client missed", async () => {
    const room = "res:gone";
    const first = await publish(room, "e", 0);
    const res = await fetch(`${cluster.url("publish-ingest")}/v1/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${cluster.devKey}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: Array.from({ length: RETENTION + 10 }, (_, i) => ({ room, event: "e", data: i + 1 })) }),
    });
    expect(res.status).toBe(201);
    const results = ((await res.json()) as { results: Array<{ offset: number }> }).results;
    const s = await connectTo(cluster, await issueToken(cluster, { clientId: "gone" }));
    const reply = await s.request("subscribe", { room, since: { offset: first } });
    const lastOffset = results[results.length - 1]!.offset;
    expect(reply["result"]).toEqual({ room, offset: lastOffset, recovered: false });
    await waitForOffset(s, room, lastOffset);
    // What is still stored arrives: the newest RETENTION messages.
    expect(offsetsOf(s, room)).toEqual(results.slice(10).map((r) => r.offset));
    s.close();
  });
});

describe("limits and protection", () => {
  it("takes a 64 KiB frame and closes a larger one with 1009", async () => {
    const s = await connectTo(cluster, await issueToken(cluster));
    const frame = (size: number) => {
      const head = '{"type":"ping","id":7,"pad":"';
      return head + "x".repeat(size - head.length - 2) + '"}';
    };
    expect(Buffer.byteLength(frame(64 * 1024))).toBe(64 * 1024);
    s.ws.send(frame(64 * 1024));
    expect(await s.waitFor((f) => f.type === "reply" && f["id"] === 7)).toMatchObject({ ok: true });
    s.ws.send(frame(64 * 1024 + 1));
    expect((await s.closed).code).toBe(1009);
  });

  it("closes a token with a stray percent escape with 4001 and keeps serving", async () => {
    const gw = cluster.services.get("fanout-gateway")!;
    const bad = openSocket(`ws://127.0.0.1:${gw.port}/v1/ws?token=%25`);
    expect((await bad.closed).code).toBe(4001);
    const s = await connectTo(cluster, await issueToken(cluster));
    expect(await s.request("ping")).toMatchObject({ ok: true });
    s.close();
  });

  it("allows 128 rooms per socket and refuses the 129th", async () => {
    const s = await connectTo(cluster, await issueToken(cluster));
    const replies = await Promise.all(Array.from({ length: 129 }, (_, i) => s.request("subscribe", { room: `many:${i}` }, 20_000)));
    expect(replies.filter((r) => r["ok"] === true).length).toBe(128);
    const refused = replies.filter((r) => r["ok"] === false);
    expect(refused.length).toBe(1);
    expect(refused[0]).toMatchObject({ error: { code: "rate_limited" } });
    // Unsubscribing one frees a place.
    const okRoom = (replies.find((r) => r["ok"] === true)!["result"] as { room: string }).room;
    expect(await s.request("unsubscribe", { room: okRoom })).toMatchObject({ ok: true });
    expect(await s.request("subscribe", { room: "many:extra" })).toMatchObject({ ok: true });
    s.close();
  });

  it("answers malformed frames with bad_request and closes with 4008 after repeated abuse", async () => {
    const s = await connectTo(cluster, await issueToken(cluster));
    s.ws.send('{"type":"nope","id":1}');
    expect(await s.waitFor((f) => f.type === "reply")).toEqual({
      type: "reply",
      id: 1,
      ok: false,
      error: { code: "bad_request", message: expect.stringMatching(/unknown request type/) as unknown },
    });
    for (let i = 0; i < 10; i++) s.ws.send("{nope");
    expect((await s.closed).code).toBe(4008);
    expect(s.frames.filter((f) => f.type === "reply" && f["ok"] === false).length).toBe(11);
  });

  it("refuses an Origin outside the app's allow-list with 403 and accepts a listed one", async () => {
    const token = await issueToken(cluster);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(cluster.wsUrl(token), { origin: "https://evil.example", perMessageDeflate: false });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => undefined);
    });
    expect(status).toBe(403);
    const good = await connectTo(cluster, token, undefined, { origin: "https://good.example" });
    expect(good.connected["type"]).toBe("connected");
    good.close();
  });

  it("never negotiates permessage-deflate", async () => {
    const s = openSocket(cluster.wsUrl(await issueToken(cluster)), { perMessageDeflate: true });
    await s.waitFor((f) => f.type === "connected");
    expect(s.ws.extensions).toBe("");
    s.close();
  });

  it("closes only the slow consumer with 4009 while another socket receives everything", async () => {
    const room = "slow:1";
    const gw = cluster.services.get("fanout-gateway")!;
    const before = await metricValue(gw, "switchboard_gateway_closes_total", 'code="4009"');
    const token = await issueToken(cluster);
    const fast = await connectTo(cluster, token);
    const slow = await connectTo(cluster, token);
    await fast.request("subscribe", { room });
    await slow.request("subscribe", { room });
    // The slow client stops reading; the kernel buffers fill, then the gateway's outbound buffer grows past 1 MiB.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const data = "z".repeat(48 * 1024);
    const offsets: number[] = [];
    const js = jetstream(nc);
    const COUNT = 400;
    for (let i = 0; i < COUNT; i++) {
      const body = encodeBody({ event: "bulk", dataJson: JSON.stringify(data), timestamp: Date.now() });
      offsets.push((await js.publish(Subjects.room("app1", room), body)).seq);
    }
    await waitForOffset(fast, room, offsets[COUNT - 1]!, 30_000);
    expect(offsetsOf(fast, room)).toEqual(offsets);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await slow.closed).code).toBe(4009);
    expect(offsetsOf(slow, room).length).toBeLessThan(COUNT);
    expect(await metricValue(gw, "switchboard_gateway_closes_total", 'code="4009"')).toBe(before + 1);
    expect(await fast.request("ping")).toMatchObject({ ok: true });
    fast.close();
  });
});

describe("token lifecycle", () => {
  it("pushes token.expiring 30 s before exp, and refresh keeps the socket with new permissions", async () => {
    const s = await connectTo(cluster, await signLocal(cluster, { clientId: "life", expiresIn: 32 }));
    await s.request("subscribe", { room: "life:a" });
    await s.request("subscribe", { room: "other" });
    expect(await s.request("presence.join", { room: "other", data: "here" })).toMatchObject({ ok: true });
    expect(await s.request("presence.join", { room: "life:a" })).toMatchObject({ ok: true });
    const expiresAt = s.connected["expiresAt"] as number;
    const warn = await s.waitFor((f) => f.type === "token.expiring", 10_000, "token.expiring");
    expect(warn).toEqual({ type: "token.expiring", expiresAt });

    const wrongClient = await s.request("refresh", { token: await signLocal(cluster, { clientId: "someone-else" }) });
    expect(wrongClient).toMatchObject({ ok: false, error: { code: "unauthorized" } });

    const fresh = await signLocal(cluster, { clientId: "life", expiresIn: 600, permissions: { "life:*": ["*"] } });
    const r = await s.request("refresh", { token: fresh });
    const newExp = (r["result"] as { expiresAt: number }).expiresAt;
    expect(newExp).toBeGreaterThan(expiresAt);
    expect(await s.waitFor((f) => f.type === "unsubscribed")).toEqual({
      type: "unsubscribed",
      room: "other",
      reason: expect.any(String) as unknown,
    });
    expect(await s.request("subscribe", { room: "other" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    expect(await s.request("subscribe", { room: "life:b" })).toMatchObject({ ok: true });
    // Presence where the new token has no presence capability is left; the rest stays.
    const watcher = await connectTo(cluster, await issueToken(cluster, { clientId: "watcher" }));
    expect(await watcher.request("presence.get", { room: "other" })).toMatchObject({ ok: true, result: { members: [] } });
    const kept = (await watcher.request("presence.get", { room: "life:a" }))["result"] as { members: Array<{ clientId: string }> };
    expect(kept.members.map((m) => m.clientId)).toEqual(["life"]);
    watcher.close();
    s.close();
  });

  it("closes with 4002 at exp without refresh", async () => {
    const s = await connectTo(cluster, await signLocal(cluster, { clientId: "exp", expiresIn: 3 }));
    const start = Date.now();
    expect((await s.closed).code).toBe(4002);
    expect(Date.now() - start).toBeLessThan(8000);
  });

  it("closes with 4003 at sessionExp even after a refresh", async () => {
    const now = Math.floor(Date.now() / 1000);
    const s = await connectTo(cluster, await signLocal(cluster, { clientId: "sess", expiresIn: 600, sessionExp: now + 4 }));
    expect(s.connected["sessionExpiresAt"]).toBe((now + 4) * 1000);
    expect(await s.request("refresh", { token: await signLocal(cluster, { clientId: "sess", expiresIn: 900 }) })).toMatchObject({
      ok: true,
    });
    expect((await s.closed).code).toBe(4003);
  });
});

describe("drain", () => {
  it("closes every socket with 1012 on SIGTERM and exits 0", async () => {
    const gw = await cluster.add("fanout-gateway", "gw-drain");
    const s = await connectTo(cluster, await issueToken(cluster), gw);
    await s.request("subscribe", { room: "drain:1" });
    const exit = gw.stop();
    expect((await s.closed).code).toBe(1012);
    expect(await exit).toBe(0);
    cluster.services.delete("gw-drain");
  });
});
