/**
 * @switchboard/server against a real cluster: offline tokens a real gateway accepts, HTTP publish with exact
 * {id, offset}, batch, sessions (online create/close, offline session tokens), Tokbox and IVS helpers, the
 * Livestorm-compatible pub/sub and SwitchboardError mapping.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { Session, Switchboard, SwitchboardError } from "@switchboard/server";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";

let cluster: Cluster;
let sb: Switchboard;

beforeAll(async () => {
  cluster = await startCluster();
  sb = new Switchboard({
    apiKey: cluster.devKey,
    authUrl: cluster.url("auth"),
    ingestUrl: cluster.url("publish-ingest"),
    historyUrl: cluster.url("history"),
  });
});

afterAll(async () => {
  await cluster?.close();
});

async function connected(token: string): Promise<TestSocket> {
  const sock = openSocket(cluster.wsUrl(token));
  await sock.waitFor((f) => f.type === "connected", 10_000, "connected");
  return sock;
}

describe("offline tokens", () => {
  it("signs without the network a token a real gateway accepts; a numeric clientId becomes its string", async () => {
    const offline = new Switchboard({
      apiKey: cluster.devKey,
      fetch: () => Promise.reject(new Error("generateTokenResponse must not use the network")),
    });
    const before = Date.now();
    const res = await offline.generateTokenResponse({ clientId: 42, expiresIn: 600 });
    expect(res.clientId).toBe("42");
    expect(res.expiresIn).toBe(600);
    expect(res.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(res.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(decodeProtectedHeader(res.token)).toMatchObject({ alg: "HS256", kid: "app1.key1" });
    expect(decodeJwt(res.token)).toMatchObject({ aud: "switchboard", clientId: "42", permissions: { "*": ["*"] } });

    const sock = await connected(res.token);
    expect(sock.frames[0]).toMatchObject({ type: "connected", clientId: "42", expiresAt: res.expiresAt, sessionExpiresAt: null });
    sock.close();
  });

  it("refuses a malformed API key with bad_request before anything else", () => {
    expect(() => new Switchboard({ apiKey: "nope" })).toThrowError(SwitchboardError);
    try {
      new Switchboard({ apiKey: "nope" });
    } catch (err) {
      expect((err as SwitchboardError).code).toBe("bad_request");
      expect((err as SwitchboardError).status).toBe(400);
    }
  });
});

describe("publish", () => {
  it("publishes over HTTP with exact {id, offset}, delivered to a subscriber; an idempotency key repeats the answer", async () => {
    const sock = await connected((await sb.generateTokenResponse({ clientId: "sub" })).token);
    expect(await sock.request("subscribe", { room: "sdk:pub" })).toMatchObject({ ok: true, result: { room: "sdk:pub" } });
    const first = await sb.publish("sdk:pub", "greeting", { text: "hi" }, { idempotencyKey: "k-1" });
    expect(first.id).toBe(`m_${first.offset.toString(36)}`);
    const again = await sb.publish("sdk:pub", "greeting", { text: "hi" }, { idempotencyKey: "k-1" });
    expect(again).toEqual(first);
    const push = await sock.waitFor((f) => f.type === "message", 10_000, "message");
    expect(push).toMatchObject({ room: "sdk:pub", event: "greeting", data: { text: "hi" }, id: first.id, offset: first.offset });

    const noData = await sb.publish("sdk:pub", "ping");
    expect(noData.offset).toBe(first.offset + 1);
    const pushes = await sock.waitFor((f) => f.type === "message" && f["offset"] === noData.offset, 10_000, "second message");
    expect(pushes["data"]).toBeNull();
    expect(sock.frames.filter((f) => f.type === "message").map((f) => f["offset"])).toEqual([first.offset, noData.offset]);
    sock.close();
  });

  it("publishes a batch with one result per message, in order", async () => {
    const results = await sb.publishBatch([
      { room: "sdk:batch", event: "a", data: 1 },
      { room: "sdk:batch", event: "b" },
      { room: "sdk:batch2", event: "c", data: { x: 1 } },
    ]);
    expect(results).toHaveLength(3);
    const offsets = results.map((r) => ("offset" in r ? r.offset : -1));
    expect(offsets[1]).toBe(offsets[0]! + 1);
    expect(offsets[2]).toBe(offsets[0]! + 2);
    expect(results[0]).toEqual({ id: `m_${offsets[0]!.toString(36)}`, offset: offsets[0] });
  });

  it("maps error bodies to SwitchboardError with code and status, and a dead service to unavailable", async () => {
    await expect(sb.publish("bad room", "x")).rejects.toMatchObject({ code: "invalid_room", status: 400 });
    const wrong = new Switchboard({ apiKey: "app1.key1:not-the-secret", ingestUrl: cluster.url("publish-ingest") });
    const err = await wrong.publish("sdk:pub", "x", 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err).toMatchObject({ code: "unauthorized", status: 401 });
    const dead = new Switchboard({ apiKey: cluster.devKey, ingestUrl: "http://127.0.0.1:1" });
    await expect(dead.publish("sdk:pub", "x")).rejects.toMatchObject({ code: "unavailable", status: 503 });
  });
});

describe("sessions", () => {
  it("creates a session through auth, signs role tokens for session:<id> offline, and close() ends its sockets with 4004", async () => {
    const session = await sb.createSession({ customSessionId: "sdk-s1", mediaMode: "routed", metadata: { topic: "demo" } });
    expect(session).toBeInstanceOf(Session);
    expect(session.sessionId).toBe("sdk-s1");
    expect(session.info).toMatchObject({ sessionId: "sdk-s1", mediaMode: "routed", metadata: { topic: "demo" } });
    await expect(sb.createSession({ customSessionId: "sdk-s1" })).rejects.toMatchObject({ code: "conflict", status: 409 });

    const expireTime = new Date(Date.now() + 3_600_000);
    const subToken = await session.generateToken({ role: "SUBSCRIBER", data: "viewer", expireTime });
    const claims = decodeJwt(subToken);
    expect(claims).toMatchObject({
      role: "subscriber",
      data: "viewer",
      permissions: { "session:sdk-s1": ["subscribe", "presence", "history", "metrics"] },
    });
    expect(claims.exp).toBe(Math.floor(expireTime.getTime() / 1000));
    expect(decodeJwt(await session.generateToken())).toMatchObject({ role: "publisher" });

    const sock = await connected(subToken);
    expect(await sock.request("subscribe", { room: "session:sdk-s1" })).toMatchObject({ ok: true });
    expect(await sock.request("publish", { room: "session:sdk-s1", event: "x", data: 1 })).toMatchObject({
      ok: false,
      error: { code: "unauthorized" },
    });
    expect(await sock.request("subscribe", { room: "elsewhere" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });

    await session.close();
    expect((await sock.closed).code).toBe(4004);
    await expect(session.close()).rejects.toMatchObject({ code: "not_found", status: 404 });
  });

  it("forceDisconnect closes a client's connection in the session (by client id)", async () => {
    const session = await sb.createSession();
    const token = await session.generateToken({ role: "publisher", clientId: "kicked-1" });
    const sock = await connected(token);
    expect(await sock.request("subscribe", { room: `session:${session.sessionId}` })).toMatchObject({ ok: true });
    const res = await session.forceDisconnect("kicked-1");
    expect(res).toEqual({ affected: 1 });
    expect((await sock.closed).code).toBe(4004);
  });

  it("Tokbox style token()/tokens() take a role, connection data and a duration in seconds", async () => {
    expect([Switchboard.Hours1, Switchboard.Hours2, Switchboard.Hours24, Switchboard.Weeks1, Switchboard.Days30]).toEqual([
      3600, 7200, 86_400, 604_800, 2_592_000,
    ]);
    const t = decodeJwt(await sb.token("tok-1", "moderator", "host", Switchboard.Hours2));
    expect(t).toMatchObject({
      role: "moderator",
      data: "host",
      permissions: { "session:tok-1": ["subscribe", "publish", "presence", "history", "metrics", "moderate"] },
    });
    expect(t.exp! - t.iat!).toBe(7200);
    const many = await sb.tokens(3, "tok-1", "SUBSCRIBER");
    expect(many).toHaveLength(3);
    expect(new Set(many.map((x) => decodeJwt(x).jti)).size).toBe(3);
    await expect(sb.token("tok-1", "owner" as never)).rejects.toMatchObject({ code: "bad_request" });
  });
});

describe("IVS style chat tokens", () => {
  it("maps capabilities to room permissions with a session expiry, and the token publishes on a real gateway", async () => {
    const before = Date.now();
    const chat = await sb.createChatToken({
      roomIdentifier: "ivs:room1",
      userId: 7,
      capabilities: ["SEND_MESSAGE"],
      attributes: { color: "red" },
    });
    expect(chat.tokenExpirationTime).toBeInstanceOf(Date);
    expect(chat.sessionExpirationTime).toBeInstanceOf(Date);
    expect(chat.sessionExpirationTime.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3_600_000);
    expect(decodeJwt(chat.token)).toMatchObject({
      clientId: "7",
      attributes: { color: "red" },
      permissions: { "ivs:room1": ["subscribe", "presence", "history", "publish"] },
    });
    const reader = await sb.createChatToken({ roomIdentifier: "ivs:room1", userId: "r", capabilities: [], sessionDurationInMinutes: 5 });
    expect(decodeJwt(reader.token).permissions).toEqual({ "ivs:room1": ["subscribe", "presence", "history"] });
    const mod = await sb.createChatToken({ roomIdentifier: "ivs:room1", userId: "m", capabilities: ["DELETE_MESSAGE", "DISCONNECT_USER"] });
    expect(decodeJwt(mod.token).permissions).toEqual({ "ivs:room1": ["subscribe", "presence", "history", "moderate"] });

    const sock = await connected(chat.token);
    expect(sock.frames[0]).toMatchObject({ clientId: "7", sessionExpiresAt: chat.sessionExpirationTime.getTime() });
    const reply = await sock.request("publish", { room: "ivs:room1", event: "chat", data: "hello" });
    expect(reply).toMatchObject({ ok: true });
    sock.close();
  });
});

describe("Livestorm-compatible pub/sub", () => {
  it("publishes to the event scope's room through POST /api/v1/pub_subs", async () => {
    const sock = await connected((await sb.generateTokenResponse({ clientId: "ls" })).token);
    expect(await sock.request("subscribe", { room: "event:E1" })).toMatchObject({ ok: true });
    const res = (await sb.pubsub.publish({
      scope: { type: "event", event_id: "E1" },
      payload: { event: { eventName: "poll_opened", data: { poll: 3 } } },
    })) as { id: string; offset: number };
    const push = await sock.waitFor((f) => f.type === "message", 10_000, "pub/sub message");
    expect(push).toMatchObject({ room: "event:E1", event: "poll_opened", data: { poll: 3 }, id: res.id, offset: res.offset });
    await expect(
      sb.pubsub.publish({ scope: { type: "session", session_id: "S" }, payload: { event: { eventName: "x" } } }),
    ).rejects.toMatchObject({
      code: "bad_request",
      status: 400,
    });
    sock.close();
  });
});
