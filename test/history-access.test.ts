/**
 * Who may read what from history (docs/HTTP-API.md), and the room-state endpoints: presence from the presence bucket,
 * occupancy gathered from gateways, and the app's active rooms. Real auth, ingest, history and gateway processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvKeys, type PresenceRecord } from "@switchboard/core";
import { issueToken, publishHttp, startCluster, type Cluster } from "./helpers/cluster.js";
import { createApp, historyGet, historyJson, openTestNats, publishMany, type TestNats } from "./helpers/history.js";
import { openSocket } from "./helpers/ws.js";

let cluster: Cluster;
let other: { appId: string; key: string };
let nats: TestNats;
let mine: number[];

beforeAll(async () => {
  cluster = await startCluster();
  other = await createApp(cluster, "other-app");
  nats = await openTestNats(cluster);
  mine = await publishMany(cluster, "chat:secret", 3, { concurrency: 1 });
  const res = await publishHttp(cluster, "chat:secret", { event: "theirs", data: "other app" }, { authorization: `Bearer ${other.key}` });
  expect(res.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await nats?.close();
  await cluster?.close();
});

async function otherToken(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${cluster.url("auth")}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${other.key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

const messages = "/v1/rooms/chat:secret/messages";
const offsetsOf = async (auth: string) => (await historyJson(cluster, messages, auth)).messages.map((m) => m.offset);
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

describe("auth matrix", () => {
  it("lets the room's app read with its API key (Bearer or Basic), and nobody without a valid key", async () => {
    expect(await offsetsOf(cluster.devKey)).toEqual([...mine].reverse());
    const basic = await fetch(`${cluster.url("history")}${messages}`, {
      headers: { authorization: `Basic ${Buffer.from(cluster.devKey).toString("base64")}` },
    });
    expect(basic.status).toBe(200);
    const none = await historyGet(cluster, messages, null);
    expect(none.status).toBe(401);
    expect((await errorOf(none)).code).toBe("unauthorized");
    const wrong = await historyGet(cluster, messages, `${cluster.devKey.split(":")[0]}:wrong-secret`);
    expect(wrong.status).toBe(401);
    const garbage = await historyGet(cluster, messages, "not.a.token");
    expect(garbage.status).toBe(401);
  });

  it("lets a token with history on the room read, and refuses one without it (403)", async () => {
    const withHistory = await issueToken(cluster, { clientId: "h", permissions: { "chat:*": ["history"] } });
    expect(await offsetsOf(withHistory)).toEqual([...mine].reverse());
    const role = await issueToken(cluster, { clientId: "s", role: "subscriber" });
    expect(await offsetsOf(role)).toEqual([...mine].reverse());

    const noHistory = await issueToken(cluster, { clientId: "n", permissions: { "chat:*": ["subscribe", "publish"] } });
    const res = await historyGet(cluster, messages, noHistory);
    expect(res.status).toBe(403);
    const err = await errorOf(res);
    expect(err.code).toBe("unauthorized");
    expect(err.message).toMatch(/history/);

    const otherRoom = await issueToken(cluster, { clientId: "o", permissions: { "lobby:*": ["history"] } });
    expect((await historyGet(cluster, messages, otherRoom)).status).toBe(403);
    for (const path of ["/v1/rooms/chat:secret/presence", "/v1/rooms/chat:secret/occupancy"])
      expect((await historyGet(cluster, path, noHistory)).status).toBe(403);
  });

  it("never shows another app's data: the other app's key and token read only its own room of the same name", async () => {
    const theirs = (await historyJson(cluster, messages, other.key)).messages;
    expect(theirs.map((m) => [m.event, m.data])).toEqual([["theirs", "other app"]]);
    const token = await otherToken({ clientId: "x", permissions: { "*": ["history"] } });
    expect((await historyJson(cluster, messages, token)).messages.map((m) => m.event)).toEqual(["theirs"]);
    const rooms = await historyJson<{ rooms: Array<{ room: string }> }>(cluster, "/v1/rooms", other.key);
    expect(rooms.rooms).toEqual([{ room: "chat:secret", messages: 1 }]);
  });

  it("serves the NATS endpoint only the app of its subject", async () => {
    const reply = await nats.nc.request(`sb.hist.${other.appId}`, JSON.stringify({ room: "chat:secret", limit: 10 }), { timeout: 5000 });
    const page = reply.json<{ messages: Array<{ event: string }> }>();
    expect(page.messages.map((m) => m.event)).toEqual(["theirs"]);
  });
});

describe("room state", () => {
  it("lists the app's active rooms (rooms with retained messages), by prefix, sorted, with counts", async () => {
    await publishMany(cluster, "lobby:b", 2);
    await publishMany(cluster, "lobby:a", 3);
    await publishMany(cluster, "lobbyist", 1);
    expect(await historyJson(cluster, "/v1/rooms?prefix=lobby:")).toEqual({
      rooms: [
        { room: "lobby:a", messages: 3 },
        { room: "lobby:b", messages: 2 },
      ],
    });
    const all = await historyJson<{ rooms: Array<{ room: string }> }>(cluster, "/v1/rooms");
    expect(all.rooms.map((r) => r.room)).toEqual(["chat:secret", "lobby:a", "lobby:b", "lobbyist"]);
    // A token sees only the rooms it may read.
    const token = await issueToken(cluster, { clientId: "t", permissions: { "lobby:*": ["history"] } });
    expect((await historyJson<{ rooms: Array<{ room: string }> }>(cluster, "/v1/rooms", token)).rooms.map((r) => r.room)).toEqual([
      "lobby:a",
      "lobby:b",
    ]);
  });

  it("reads presence members of exactly one room from the presence bucket", async () => {
    const kv = await nats.kv("sb_presence");
    const [appId] = cluster.devKey.split(".") as [string];
    const put = (room: string, r: PresenceRecord, app = appId) => kv.put(KvKeys.presence(app, room, r.connectionId), JSON.stringify(r));
    await put("stage:1", { clientId: "bob", connectionId: "c2", data: { mood: "ok" }, joinedAt: 2000 });
    await put("stage:1", { clientId: "ann", connectionId: "c1", data: null, joinedAt: 1000 });
    await put("stage:10", { clientId: "eve", connectionId: "c3", data: null, joinedAt: 500 });
    await put("stage:1", { clientId: "mal", connectionId: "c4", data: null, joinedAt: 10 }, other.appId);
    await put("stage:1", { clientId: "gone", connectionId: "c5", data: null, joinedAt: 10 });
    await kv.delete(KvKeys.presence(appId, "stage:1", "c5"));
    expect(await historyJson(cluster, "/v1/rooms/stage:1/presence")).toEqual({
      members: [
        { clientId: "ann", connectionId: "c1", data: null, joinedAt: 1000 },
        { clientId: "bob", connectionId: "c2", data: { mood: "ok" }, joinedAt: 2000 },
      ],
    });
    expect(await historyJson(cluster, "/v1/rooms/stage:2/presence")).toEqual({ members: [] });
    const presenceOnly = await issueToken(cluster, { clientId: "p", permissions: { "stage:*": ["presence"] } });
    expect((await historyJson<{ members: unknown[] }>(cluster, "/v1/rooms/stage:1/presence", presenceOnly)).members.length).toBe(2);
    const occ = await historyJson(cluster, "/v1/rooms/stage:1/occupancy");
    expect(occ).toEqual({ connections: 0, subscribers: 0, presenceMembers: 2 });
  });

  it("sums occupancy from the gateways and shows a socket's presence join", async () => {
    const token = await issueToken(cluster, { clientId: "carol" });
    const sock = openSocket(cluster.wsUrl(token));
    await sock.waitFor((f) => f.type === "connected");
    expect(await sock.request("subscribe", { room: "live:1" })).toMatchObject({ ok: true });
    expect(await sock.request("presence.join", { room: "live:1", data: { hi: 1 } })).toMatchObject({ ok: true });
    expect(await historyJson(cluster, "/v1/rooms/live:1/occupancy")).toEqual({ connections: 1, subscribers: 1, presenceMembers: 1 });
    const members = (await historyJson<{ members: Array<Record<string, unknown>> }>(cluster, "/v1/rooms/live:1/presence")).members;
    expect(members).toHaveLength(1);
    expect(members[0]).toMatchObject({ clientId: "carol", data: { hi: 1 } });
    sock.close();
  });
});
