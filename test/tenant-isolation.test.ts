/**
 * Tenant isolation (docs/SECURITY.md): two apps use the same room names, and app B tries every surface it has — ingest
 * publish, message delete and disconnect; history messages, presence, occupancy and room list; auth sessions, session
 * tokens and revocation; socket subscribe, history, presence, occupancy and each moderation request — against app A's
 * room, socket and session. Each answer concerns B's own namespace only: A's messages, members and sockets are never
 * shown, changed or closed. Real processes throughout; the NATS side is covered by per-service users
 * (test/nats-permissions.test.ts) and history's NATS endpoint (test/history-access.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, publishHttp, publishStored, startCluster, type Cluster } from "./helpers/cluster.js";
import { api, type ApiResponse } from "./helpers/auth.js";
import { connectTo, type Connected } from "./helpers/gateway.js";
import { createApp, historyGet, historyJson } from "./helpers/history.js";

const ROOM = "shared:room";
let cluster: Cluster;
let b: { appId: string; key: string };
/** App A's subscriber, present in ROOM; it must see only A's messages and never be closed by B. */
let alice: Connected;
let aSession: string;

/** A JSON call with an API key (test/helpers/auth.ts api). */
function call(service: "auth" | "publish-ingest", method: string, path: string, key: string, body?: unknown): Promise<ApiResponse> {
  return api(cluster.url(service), method, path, { auth: `Bearer ${key}`, body });
}

async function tokenOf(key: string, body: Record<string, unknown>): Promise<string> {
  const res = await call("auth", "POST", "/v1/tokens", key, body);
  expect(res.status).toBe(201);
  return res.body["token"] as string;
}

beforeAll(async () => {
  cluster = await startCluster();
  b = await createApp(cluster, "tenant-b");
  alice = await connectTo(cluster, await issueToken(cluster, { clientId: "alice", role: "moderator" }));
  expect(await alice.request("subscribe", { room: ROOM })).toMatchObject({ ok: true });
  expect(await alice.request("presence.join", { room: ROOM })).toMatchObject({ ok: true });
  await publishStored(cluster, ROOM, { event: "a", data: "A1" });
  const session = await call("auth", "POST", "/v1/sessions", cluster.devKey, { customSessionId: "a-private" });
  expect(session.status).toBe(201);
  aSession = session.body["sessionId"] as string;
}, 120_000);

afterAll(async () => {
  alice?.close();
  await cluster?.close();
});

describe("app B against app A's room of the same name", () => {
  it("HTTP: B's publish, history, presence, occupancy and room list are B's own", async () => {
    const res = await publishHttp(cluster, ROOM, { event: "b", data: "B1" }, { authorization: `Bearer ${b.key}` });
    expect(res.status).toBe(201);
    // Offsets are per stream, so B's first message has the next one; the room's pages are apart.
    const bPage = await historyJson(cluster, `/v1/rooms/${ROOM}/messages`, b.key);
    expect(bPage.messages.map((m) => [m.event, m.data])).toEqual([["b", "B1"]]);
    const aPage = await historyJson(cluster, `/v1/rooms/${ROOM}/messages`);
    expect(aPage.messages.map((m) => [m.event, m.data])).toEqual([["a", "A1"]]);
    expect(await historyJson(cluster, `/v1/rooms/${ROOM}/presence`, b.key)).toEqual({ members: [] });
    expect(await historyJson(cluster, `/v1/rooms/${ROOM}/occupancy`, b.key)).toEqual({
      connections: 0,
      subscribers: 0,
      presenceMembers: 0,
    });
    expect(await historyJson(cluster, "/v1/rooms", b.key)).toEqual({ rooms: [{ room: ROOM, messages: 1 }] });
    // A's socket saw A's message only (B's was stored in B's namespace).
    expect(alice.frames.filter((f) => f.type === "message").map((f) => f["data"])).toEqual(["A1"]);
  });

  it("HTTP: B cannot delete A's message, disconnect A's client, or touch A's session", async () => {
    const aFirst = (await historyJson(cluster, `/v1/rooms/${ROOM}/messages`)).messages[0]!;
    const del = await call("publish-ingest", "DELETE", `/v1/rooms/${ROOM}/messages/${aFirst.id}`, b.key);
    expect(del.status).toBe(404);
    expect((await historyJson(cluster, `/v1/rooms/${ROOM}/messages`)).messages.map((m) => m.id)).toEqual([aFirst.id]);

    const kick = await call("publish-ingest", "POST", `/v1/rooms/${ROOM}/disconnect`, b.key, { clientId: "alice" });
    expect(kick.body).toEqual({ affected: 0 });
    const revoke = await call("auth", "POST", "/v1/tokens/revoke", b.key, { clientId: "alice" });
    expect(revoke.status).toBe(200);

    for (const [method, path, body] of [
      ["GET", `/v1/sessions/${aSession}`, undefined],
      ["POST", `/v1/sessions/${aSession}/tokens`, {}],
      ["DELETE", `/v1/sessions/${aSession}`, undefined],
    ] as const) {
      const res = await call("auth", method, path, b.key, body);
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    const listed = (await call("auth", "GET", "/v1/sessions", b.key)).body as { sessions: Array<{ sessionId: string }> };
    expect(listed.sessions.map((s) => s.sessionId)).not.toContain(aSession);
    // B may create a session of the same custom id: sessions are per app too.
    expect((await call("auth", "POST", "/v1/sessions", b.key, { customSessionId: "a-private" })).status).toBe(201);

    // A's socket is still open and A's session still issues tokens.
    expect(await alice.request("ping")).toMatchObject({ ok: true });
    expect((await call("auth", "POST", `/v1/sessions/${aSession}/tokens`, cluster.devKey, {})).status).toBe(201);
  });

  it("socket: B's moderator sees and moderates only B's room", async () => {
    const mod = await connectTo(cluster, await tokenOf(b.key, { clientId: "b-mod", role: "moderator" }));
    expect(await mod.request("subscribe", { room: ROOM })).toMatchObject({ ok: true });
    const hist = (await mod.request("history", { room: ROOM }))["result"] as { messages: Array<{ data: unknown }> };
    expect(hist.messages.map((m) => m.data)).toEqual(["B1"]);
    expect(await mod.request("presence.get", { room: ROOM })).toMatchObject({ ok: true, result: { members: [] } });
    expect(await mod.request("occupancy", { room: ROOM })).toMatchObject({ ok: true, result: { connections: 1, presenceMembers: 0 } });
    for (const [type, body] of [
      ["moderate.disconnect", { clientId: "alice" }],
      ["moderate.disconnect", { connectionId: alice.connectionId }],
      ["moderate.mute", { connectionId: alice.connectionId }],
      ["moderate.mute", { clientId: "alice" }],
    ] as const) {
      expect([type, await mod.request(type, { room: ROOM, ...body })]).toEqual([
        type,
        expect.objectContaining({ ok: true, result: { affected: 0 } }),
      ]);
    }
    // A's alice still publishes (B's mute named B's alice), and each side sees only its own app's messages.
    expect(await alice.request("publish", { room: ROOM, event: "a", data: "A2" })).toMatchObject({ ok: true });
    await alice.waitFor((f) => f.type === "message" && f["data"] === "A2");
    expect(await mod.request("publish", { room: ROOM, event: "b", data: "B2" })).toMatchObject({ ok: true });
    await mod.waitFor((f) => f.type === "message" && f["data"] === "B2");
    expect(mod.frames.filter((f) => f.type === "message").map((f) => f["data"])).toEqual(["B2"]);
    expect(alice.frames.filter((f) => f.type === "message").map((f) => f["data"])).toEqual(["A1", "A2"]);
    mod.close();
  });

  it("history by token: B's token for the room reads B's messages, never A's", async () => {
    const token = await tokenOf(b.key, { clientId: "reader", permissions: { "shared:*": ["history"] } });
    const page = await historyJson(cluster, `/v1/rooms/${ROOM}/messages`, token);
    expect(page.messages.map((m) => m.data)).toEqual(["B2", "B1"]);
    const presence = await historyGet(cluster, `/v1/rooms/${ROOM}/presence`, token);
    expect(await presence.json()).toEqual({ members: [] });
  });
});
