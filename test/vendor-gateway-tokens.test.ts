/**
 * Vendor tokens on the gateway, against real services. OpenTok client tokens signed locally by the real `opentok`
 * 2.23 SDK (apiKey = appId.keyId, apiSecret = the key's secret), in both formats, connect native sockets to their
 * session's room with their role and connection data, and the attacks on them close the socket with the contract's
 * codes: a T1 with a wrong signature, a JWT signed with another key's secret, an expired or too long-lived
 * expire_time, a session id of another apiKey (4001), a session never created or closed (4004). OpenVidu
 * connections (real openvidu-node-client 2.32) name their socket: its connectionId is the `con_…` id known at
 * creation, the connect URL's sessionId must match the token's, and a second socket of one connection replaces the
 * first.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenTok from "opentok";
import { OpenVidu, OpenViduRole } from "openvidu-node-client";
import { encodeJwt, encodeT1, mintSessionId, type OpenTokTokenData } from "@switchboard/core";
import type { Cluster } from "./helpers/cluster.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";
import { api, splitKey } from "./helpers/auth.js";
import { createAppKey, startVendorCluster } from "./helpers/vendors.js";

let cluster: Cluster;
let ot: OpenTok;
let key: ReturnType<typeof splitKey>;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  cluster = await startVendorCluster();
  key = splitKey(cluster.devKey);
  ot = new OpenTok(key.kid, key.secret, cluster.url("auth"));
}, 180_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await (cluster as Cluster | undefined)?.close();
});

function connect(url: string): TestSocket {
  const s = openSocket(url);
  sockets.push(s);
  return s;
}

const createSession = (client: OpenTok) =>
  new Promise<string>((resolve, reject) =>
    client.createSession({}, (err, s) => (err !== null || s === undefined ? reject(err ?? new Error("no session")) : resolve(s.sessionId))),
  );
const signal = (sid: string, payload: { type: string; data: string }) =>
  new Promise<void>((resolve, reject) => ot.signal(sid, null, payload, (err) => (err === null ? resolve() : reject(err))));
const forceDisconnect = (sid: string, cid: string) =>
  new Promise<void>((resolve, reject) => ot.forceDisconnect(sid, cid, (err) => (err === null ? resolve() : reject(err))));

/** Token data as the SDK signs it, for the attacks the SDK would not sign itself. */
function tokenData(sessionId: string, over: Partial<OpenTokTokenData> = {}): OpenTokTokenData {
  const now = Math.floor(Date.now() / 1000);
  return {
    session_id: sessionId,
    create_time: now,
    nonce: 0.5,
    role: "publisher",
    expire_time: now + 3600,
    initial_layout_class_list: "",
    scope: "session.connect",
    ...over,
  };
}

/** How a socket with this token ends (it must be closed by the gateway, not greeted). */
async function closeCode(token: string): Promise<{ code: number; reason: string }> {
  const s = connect(cluster.wsUrl(token));
  const greeted = s
    .waitFor((f) => f.type === "connected", 10_000)
    .then((f) => {
      throw new Error(`the gateway accepted the token: ${JSON.stringify(f)}`);
    });
  return Promise.race([s.closed, greeted]);
}

describe("OpenTok client tokens on the gateway", () => {
  it("connects sockets with the SDK's JWT and T1 tokens, with their role and connection data", async () => {
    const sessionId = await createSession(ot);
    const room = `session:${sessionId}`;
    const mod = connect(cluster.wsUrl(ot.generateToken(sessionId, { role: "moderator", data: "name=Mo" })));
    const pub = connect(cluster.wsUrl(ot.generateToken(sessionId, { role: "publisheronly", data: "name=Zoë" }, true)));
    const sub = connect(cluster.wsUrl(ot.generateToken(sessionId, { role: "subscriber" }, true)));
    const pubHello = await pub.waitFor((f) => f.type === "connected");
    for (const s of [mod, pub, sub]) {
      await s.waitFor((f) => f.type === "connected");
      expect((await s.request("subscribe", { room }))["ok"]).toBe(true);
    }
    // The default token lives 24 h: exp = its expire_time.
    const modHello = await mod.waitFor((f) => f.type === "connected");
    expect(Math.abs((modHello["expiresAt"] as number) - (Date.now() + 86_400_000))).toBeLessThan(10_000);

    const sent = await pub.request("publish", { room, event: "chat", data: "hi" });
    expect(sent["ok"]).toBe(true);
    expect(await sub.waitFor((f) => f.type === "message" && f["event"] === "chat")).toMatchObject({
      data: "hi",
      connectionData: "name=Zoë",
    });
    const refused = await sub.request("publish", { room, event: "chat", data: "no" });
    expect(refused["error"]).toEqual({ code: "unauthorized", message: `your token lacks the publish capability on room ${room}` });
    // Only the session's room.
    expect(((await pub.request("subscribe", { room: "elsewhere" }))["error"] as { code: string }).code).toBe("unauthorized");

    // The SDK's signal reaches every token's socket; its force-disconnect names the gateway's connectionId.
    await signal(sessionId, { type: "note", data: "from the server" });
    for (const s of [mod, pub, sub]) await s.waitFor((f) => f.type === "message" && f["event"] === "note");
    await forceDisconnect(sessionId, pubHello["connectionId"] as string);
    expect((await pub.closed).code).toBe(4004);
    // A moderator token moderates.
    const kick = await mod.request("moderate.disconnect", {
      room,
      connectionId: (await sub.waitFor((f) => f.type === "connected"))["connectionId"],
    });
    expect(kick["result"]).toEqual({ affected: 1 });
    expect((await sub.closed).code).toBe(4004);
  });

  it("closes sockets whose tokens are forged, expired, too long-lived or for a session not of this app", async () => {
    const sessionId = await createSession(ot);
    const now = Math.floor(Date.now() / 1000);

    // T1 with a wrong signature: one hex digit of sig changed.
    const t1 = ot.generateToken(sessionId, { role: "publisher" }, true);
    const text = Buffer.from(t1.slice(4), "base64").toString("utf8");
    const sigAt = text.indexOf("sig=") + 4;
    const flipped = text.slice(0, sigAt) + (text[sigAt] === "a" ? "b" : "a") + text.slice(sigAt + 1);
    expect(await closeCode(`T1==${Buffer.from(flipped).toString("base64")}`)).toEqual({
      code: 4001,
      reason: "the token's signature does not match its apiKey's secret",
    });
    // A JWT signed with another key's secret (the SDK signs whatever secret it is given).
    const otherKey = splitKey(await createAppKey(cluster, "other-ot-gw"));
    const forged = new OpenTok(key.kid, otherKey.secret, cluster.url("auth")).generateToken(sessionId);
    expect((await closeCode(forged)).code).toBe(4001);
    // Expired expire_time (the SDK refuses to sign one in the past): 4002.
    expect(
      await closeCode(encodeJwt(key.kid, key.secret, tokenData(sessionId, { create_time: now - 100, expire_time: now - 10 }), now - 100)),
    ).toEqual({
      code: 4002,
      reason: "the token has expired (expire_time is past)",
    });
    expect(
      (await closeCode(encodeT1(key.kid, key.secret, tokenData(sessionId, { create_time: now - 100, expire_time: now - 10 })))).code,
    ).toBe(4002);
    // More than 30 days (the SDK signs 31).
    const long = ot.generateToken(sessionId, { expireTime: now + 31 * 86_400 });
    expect(await closeCode(long)).toEqual({ code: 4001, reason: "expire_time must be at most 30 days after create_time" });
    // A role OpenTok does not have.
    expect((await closeCode(encodeJwt(key.kid, key.secret, tokenData(sessionId, { role: "admin" }), now))).code).toBe(4001);
    // Another app's session, signed with this key: its session id embeds the other apiKey.
    const foreignSession = await createSession(new OpenTok(otherKey.kid, otherKey.secret, cluster.url("auth")));
    expect(await closeCode(encodeJwt(key.kid, key.secret, tokenData(foreignSession), now))).toEqual({
      code: 4001,
      reason: "the session id does not belong to the apiKey that signed the token",
    });
    // A well-formed session id of this apiKey that was never created: 4004.
    const never = mintSessionId(key.kid) ?? "";
    expect(await closeCode(ot.generateToken(never))).toEqual({
      code: 4004,
      reason: `session ${never} does not exist in this app (never created, or closed)`,
    });
    // An unknown apiKey.
    expect((await closeCode(encodeJwt("noapp.nokey", key.secret, tokenData(sessionId), now))).code).toBe(4001);

    // A closed session: its open sockets close, new ones are refused.
    const open = connect(cluster.wsUrl(ot.generateToken(sessionId)));
    await open.waitFor((f) => f.type === "connected");
    const closed = await api(cluster.url("auth"), "DELETE", `/v1/sessions/${sessionId}`, { auth: `Bearer ${cluster.devKey}` });
    expect(closed.status).toBe(204);
    expect((await open.closed).code).toBe(4004);
    expect((await closeCode(ot.generateToken(sessionId))).code).toBe(4004);
  });
});

describe("OpenVidu connection ids on the gateway", () => {
  it("uses the connection's con_ id as the socket's connectionId, checks the URL's sessionId, and keeps one socket per connection", async () => {
    const ov = new OpenVidu(cluster.url("auth"), cluster.devKey);
    const session = await ov.createSession({ customSessionId: "ov-gw-1" });
    const other = await ov.createSession({ customSessionId: "ov-gw-2" });
    const conn = await session.createConnection({ role: OpenViduRole.PUBLISHER, data: "alice" });
    const first = connect(conn.token);
    expect(await first.waitFor((f) => f.type === "connected")).toMatchObject({
      connectionId: conn.connectionId,
      clientId: conn.connectionId,
    });
    expect((await first.request("presence.join", { room: "session:ov-gw-1", data: { n: 1 } }))["ok"]).toBe(true);
    expect(((await first.request("presence.get", { room: "session:ov-gw-1" }))["result"] as { members: unknown[] }).members).toMatchObject([
      { connectionId: conn.connectionId },
    ]);

    // The URL names another session than the token's: refused.
    const wrong = conn.token.replace("sessionId=ov-gw-1", `sessionId=${other.sessionId}`);
    expect(await connect(wrong).closed).toEqual({ code: 4001, reason: "the token is not for session ov-gw-2" });

    // A second socket of the same connection replaces the first.
    const second = connect(conn.token);
    expect((await second.waitFor((f) => f.type === "connected"))["connectionId"]).toBe(conn.connectionId);
    expect(await first.closed).toEqual({ code: 4004, reason: "replaced by a newer socket of the same connection" });
    expect((await second.request("ping"))["ok"]).toBe(true);

    // OpenVidu's force-disconnect names the socket by its connection id.
    await session.forceDisconnect(conn.connectionId);
    expect((await second.closed).code).toBe(4004);
  });
});
