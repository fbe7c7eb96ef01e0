/**
 * The OpenTok drop-in with the real, unmodified `opentok` 2.23 SDK against real services: apiKey = the Switchboard
 * key id (appId.keyId), apiSecret = its secret, apiUrl = auth. Sessions, signals and force-disconnect through the
 * SDK reach a socket of the session (a signal to one connection reaches that socket alone, unstored); every error the SDK can raise (with its own error type); X-OPENTOK-AUTH
 * attacks; and the SDK's locally signed client tokens (JWT and T1) verified by Switchboard's verifier.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenTok from "opentok";
import { AuthError, ForceDisconnectError, RequestError, SignalError } from "opentok/lib/errors.js";
import type { Cluster } from "./helpers/cluster.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";
import { api, splitKey } from "./helpers/auth.js";
import { createAppKey, startVendorCluster } from "./helpers/vendors.js";
import { verifyClientToken } from "@switchboard/core";
import { SwitchboardClient, type SignalPush } from "@switchboard/client";
import { historyJson, messagesPath } from "./helpers/history.js";

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

const createSession = (client: OpenTok, opts: Parameters<OpenTok["createSession"]>[0] = {}) =>
  new Promise<string>((resolve, reject) =>
    client.createSession(opts, (err, s) =>
      err !== null || s === undefined ? reject(err ?? new Error("no session")) : resolve(s.sessionId),
    ),
  );
const signal = (client: OpenTok, sid: string, cid: string | null, payload: { type?: string; data: string }) =>
  new Promise<void>((resolve, reject) => client.signal(sid, cid, payload, (err) => (err === null ? resolve() : reject(err))));
const forceDisconnect = (client: OpenTok, sid: string, cid: string) =>
  new Promise<void>((resolve, reject) => client.forceDisconnect(sid, cid, (err) => (err === null ? resolve() : reject(err))));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the call to reject");
}

/** A socket in the session with a native session token (OpenTok client tokens: vendor-gateway-tokens.test.ts). */
async function sessionSocket(sessionId: string): Promise<{ socket: TestSocket; connectionId: string }> {
  const res = await api(cluster.url("auth"), "POST", `/v1/sessions/${sessionId}/tokens`, {
    auth: `Bearer ${cluster.devKey}`,
    body: { role: "subscriber", clientId: "viewer" },
  });
  const socket = openSocket(cluster.wsUrl(res.body["token"] as string));
  sockets.push(socket);
  const connected = await socket.waitFor((f) => f.type === "connected");
  expect((await socket.request("subscribe", { room: `session:${sessionId}` }))["ok"]).toBe(true);
  return { socket, connectionId: connected["connectionId"] as string };
}

describe("opentok SDK against Switchboard", () => {
  it("accepts an apiKey of the form appId.keyId: the SDK signs client tokens for the sessions it creates", async () => {
    const sessionId = await createSession(ot, { mediaMode: "routed", location: "12.34.56.78" });
    expect(sessionId).toMatch(/^1_[A-Za-z0-9_-]+$/);
    const now = Math.floor(Date.now() / 1000);
    const jwt = ot.generateToken(sessionId, { role: "moderator", data: "name=Zoë", expireTime: now + 3600 });
    const t1 = ot.generateToken(sessionId, { role: "publisheronly", data: "name=Zoë" }, true);
    const secretOf = (k: string) => (k === key.kid ? key.secret : undefined);
    expect(await verifyClientToken(jwt, secretOf)).toMatchObject({
      format: "jwt",
      apiKey: key.kid,
      sessionId,
      role: "moderator",
      switchboardRole: "moderator",
      connectionData: "name=Zoë",
      expireTime: now + 3600,
    });
    expect(await verifyClientToken(t1, secretOf)).toMatchObject({
      format: "t1",
      sessionId,
      role: "publisheronly",
      switchboardRole: "publisher",
      connectionData: "name=Zoë",
    });
    // Another app's session: the SDK itself refuses to sign for it.
    const other = new OpenTok(splitKey(await createAppKey(cluster, "other-ot")).kid, "x".repeat(43), cluster.url("auth"));
    expect(() => other.generateToken(sessionId)).toThrow(/unless the session belongs to the API Key/);
  });

  it("signals the session and force-disconnects a connection of it", async () => {
    const sessionId = await createSession(ot);
    const { socket, connectionId } = await sessionSocket(sessionId);
    await signal(ot, sessionId, null, { type: "chat", data: "hello" });
    const msg = await socket.waitFor((f) => f.type === "message");
    expect(msg).toMatchObject({ room: `session:${sessionId}`, event: "chat", data: "hello" });
    await signal(ot, sessionId, null, { data: "untyped" });
    expect(await socket.waitFor((f) => f.type === "message" && f["data"] === "untyped")).toMatchObject({ event: "signal" });
    await forceDisconnect(ot, sessionId, connectionId);
    expect((await socket.closed).code).toBe(4004);
  });

  it("signals one connection: an unstored push to that socket alone; SignalError for a connection not in the session", async () => {
    const sessionId = await createSession(ot);
    const room = `session:${sessionId}`;
    // The target connects with the SDK's own client token; another socket of the session with a native token.
    const target = openSocket(cluster.wsUrl(ot.generateToken(sessionId, { role: "subscriber" })));
    sockets.push(target);
    const targetId = (await target.waitFor((f) => f.type === "connected"))["connectionId"] as string;
    expect((await target.request("subscribe", { room }))["ok"]).toBe(true);
    const other = await sessionSocket(sessionId);

    await signal(ot, sessionId, targetId, { type: "private", data: "for you" });
    // A session signal after it is stored and pushed to every subscriber, after anything sent to them before it.
    await signal(ot, sessionId, null, { type: "after", data: "everyone" });
    await target.waitFor((f) => f.type === "message" && f["event"] === "after");
    await other.socket.waitFor((f) => f.type === "message" && f["event"] === "after");
    const pushes = (frames: Array<{ type: string }>) => frames.filter((f) => f.type === "signal" || f.type === "message");
    expect(pushes(target.frames).map((f) => f.type)).toEqual(["signal", "message"]);
    expect(pushes(target.frames)[0]).toEqual({ type: "signal", room, event: "private", data: "for you" });
    expect(pushes(other.socket.frames).map((f) => f.type)).toEqual(["message"]);
    // History has the session signal only.
    const page = await historyJson(cluster, messagesPath(room, {}));
    expect(page.messages.map((m) => [m.event, m.data])).toEqual([["after", "everyone"]]);

    // The client SDK emits it, to a connection that never subscribed; an untyped signal has event `signal`.
    const tokenRes = await api(cluster.url("auth"), "POST", `/v1/sessions/${sessionId}/tokens`, {
      auth: `Bearer ${cluster.devKey}`,
      body: { role: "subscriber" },
    });
    const client = new SwitchboardClient({
      url: `ws://127.0.0.1:${cluster.services.get("fanout-gateway")?.port ?? 0}/v1/ws`,
      token: tokenRes.body["token"] as string,
    });
    try {
      await client.connect();
      const received = new Promise<Omit<SignalPush, "type">>((resolve) => client.on("signal", resolve));
      await signal(ot, sessionId, client.connectionId ?? "", { data: "untyped" });
      expect(await received).toEqual({ room, event: "signal", data: "untyped" });
    } finally {
      client.close();
    }

    // No such connection, or a connection of another session: the SDK's SignalError (404).
    expect(await rejection(signal(ot, sessionId, "no-such-connection", { data: "x" }))).toBeInstanceOf(SignalError);
    const elsewhere = await sessionSocket(await createSession(ot));
    expect(await rejection(signal(ot, sessionId, elsewhere.connectionId, { data: "x" }))).toBeInstanceOf(SignalError);
    expect(elsewhere.socket.frames.filter((f) => f.type === "signal")).toEqual([]);
    expect((await historyJson(cluster, messagesPath(room, {}))).messages).toHaveLength(1);
  });

  it("raises the SDK's own error for each mistake", async () => {
    const sessionId = await createSession(ot);
    // bad credentials
    const wrong = new OpenTok(key.kid, `${key.secret}x`, cluster.url("auth"));
    const auth = await rejection(createSession(wrong));
    expect(auth.message).toBe("Failed to createSession. Error: Invalid API key or secret");
    expect(await rejection(signal(wrong, sessionId, null, { data: "x" }))).toBeInstanceOf(AuthError);
    // unknown session, unknown connection, another app's session
    expect(await rejection(signal(ot, "1_nothing", null, { data: "x" }))).toBeInstanceOf(SignalError);
    expect(await rejection(forceDisconnect(ot, sessionId, "no-such-connection"))).toBeInstanceOf(ForceDisconnectError);
    const otherKey = splitKey(await createAppKey(cluster, "other-ot3"));
    const foreign = new OpenTok(otherKey.kid, otherKey.secret, cluster.url("auth"));
    expect(await rejection(signal(foreign, sessionId, null, { data: "x" }))).toBeInstanceOf(SignalError);
    // bad input: a type Switchboard cannot carry as an event name, data over 8 KB
    const badType = await rejection(signal(ot, sessionId, null, { type: "has space", data: "x" }));
    expect(badType).toBeInstanceOf(RequestError);
    expect(badType.message).toMatch(/^Unexpected response from OpenTok: .*type: /);
    expect(await rejection(signal(ot, sessionId, null, { type: "chat", data: "x".repeat(8193) }))).toBeInstanceOf(RequestError);
    // archiving is not available
    expect((await rejection(createSession(ot, { mediaMode: "routed", archiveMode: "always" }))).message).toMatch(/does not archive/);
  });

  it("refuses X-OPENTOK-AUTH that is expired, signed with another key's secret, or for another project", async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = (claims: Record<string, unknown>, secret = key.secret) => {
      const input = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
      return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
    };
    const create = (token: string) =>
      fetch(`${cluster.url("auth")}/session/create`, {
        method: "POST",
        headers: { "x-opentok-auth": token, "content-type": "application/x-www-form-urlencoded" },
        body: "archiveMode=manual&p2p.preference=enabled",
      });
    const good = await create(jwt({ iss: key.kid, ist: "project", iat: now, exp: now + 300 }));
    expect(good.status).toBe(200);
    for (const token of [
      jwt({ iss: key.kid, ist: "project", iat: now - 700, exp: now - 400 }),
      jwt({ iss: key.kid, ist: "project", iat: now, exp: now + 300 }, "another-secret"),
      jwt({ iss: key.kid, ist: "account", iat: now, exp: now + 300 }),
      jwt({ iss: key.kid, ist: "project", iat: now, exp: now + 86400 }),
    ]) {
      const res = await create(token);
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(((await res.json()) as { code: number }).code).toBe(401);
    }
    const sessionId = ((await good.json()) as Array<{ session_id: string }>)[0]?.session_id ?? "";
    const res = await fetch(`${cluster.url("auth")}/v2/project/otherapp.key/session/${sessionId}/signal`, {
      method: "POST",
      headers: { "x-opentok-auth": jwt({ iss: key.kid, ist: "project", iat: now, exp: now + 300 }), "content-type": "application/json" },
      body: JSON.stringify({ data: "x" }),
    });
    expect(res.status).toBe(403);
  });
});
