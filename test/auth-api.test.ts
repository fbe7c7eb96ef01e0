/**
 * The auth API (docs/HTTP-API.md) against real processes: every endpoint and its 4xx answers (each message naming
 * the field or header to fix), revocation and session close reaching sockets on a real gateway, and the claims
 * of issued tokens taking effect on a gateway socket.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLE_CAPS, maskToCaps, signToken } from "@switchboard/protocol";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { openSocket, type TestSocket } from "./helpers/ws.js";
import { api, decodePayload, splitKey, type ApiResponse } from "./helpers/auth.js";

let cluster: Cluster;
let auth: string;
let bearer: string;
let admin: string;

beforeAll(async () => {
  cluster = await startCluster();
  // A second auth process with a tiny issuance rate and no admin token.
  await cluster.add("auth", "auth-limited", { SWITCHBOARD_TOKEN_RATE: "1", SWITCHBOARD_TOKEN_BURST: "3", SWITCHBOARD_ADMIN_TOKEN: "" });
  auth = cluster.url("auth");
  bearer = `Bearer ${cluster.devKey}`;
  admin = `Bearer ${cluster.adminToken}`;
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const post = (path: string, body: unknown, authz = bearer) => api(auth, "POST", path, { auth: authz, body });
const get = (path: string, authz = bearer) => api(auth, "GET", path, { auth: authz });
const del = (path: string, authz = bearer) => api(auth, "DELETE", path, { auth: authz });

function expectError(res: ApiResponse, status: number, code: string, message: RegExp): void {
  expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
  expect(res.body.error?.message).toMatch(message);
}

async function closedWithin(sock: TestSocket, ms: number): Promise<number> {
  const timeout = new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), ms));
  return (await Promise.race([sock.closed, timeout])).code;
}

const SUBSCRIBER = maskToCaps(ROLE_CAPS.subscriber);
const PUBLISHER = maskToCaps(ROLE_CAPS.publisher);

describe("POST /v1/tokens", () => {
  it("issues a token with every claim, signed HS256 with kid appId.keyId", async () => {
    const res = await post("/v1/tokens", {
      clientId: "alice",
      expiresIn: 60,
      role: "publisher",
      permissions: { "chat:*": ["subscribe"] },
      attributes: { team: "blue" },
      data: "conn-data",
      sessionDurationMinutes: 10,
    });
    expect(res.status).toBe(201);
    const token = res.body["token"] as string;
    const header = JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as Record<string, unknown>;
    expect(header).toEqual({ alg: "HS256", typ: "JWT", kid: splitKey(cluster.devKey).kid });
    const p = decodePayload(token);
    const iat = p["iat"] as number;
    expect(p).toEqual({
      permissions: { "chat:*": PUBLISHER },
      clientId: "alice",
      role: "publisher",
      attributes: { team: "blue" },
      data: "conn-data",
      sessionExp: iat + 600,
      aud: "switchboard",
      iat,
      exp: iat + 60,
      jti: p["jti"],
    });
    expect(p["jti"]).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(res.body).toEqual({
      token,
      expiresIn: 60,
      expiresAt: (iat + 60) * 1000,
      sessionExpiresAt: (iat + 600) * 1000,
      clientId: "alice",
    });
  });

  it("defaults to 900 s on every room, turns a numeric clientId into its string, accepts Basic auth", async () => {
    const basic = `Basic ${Buffer.from(cluster.devKey).toString("base64")}`;
    const res = await post("/v1/tokens", { clientId: 42 }, basic);
    expect(res.status).toBe(201);
    const p = decodePayload(res.body["token"] as string);
    expect({ exp: (p["exp"] as number) - (p["iat"] as number), permissions: p["permissions"], clientId: p["clientId"] }).toEqual({
      exp: 900,
      permissions: { "*": ["*"] },
      clientId: "42",
    });
    expect(res.body["clientId"]).toBe("42");
  });

  it("issues count tokens with distinct ids, up to 1000", async () => {
    const three = await post("/v1/tokens", { clientId: "c", count: 3 });
    expect(three.status).toBe(201);
    const tokens = three.body["tokens"] as Array<{ token: string; clientId: string }>;
    expect(tokens.length).toBe(3);
    expect(new Set(tokens.map((t) => decodePayload(t.token)["jti"])).size).toBe(3);
    expect(tokens.map((t) => t.clientId)).toEqual(["c", "c", "c"]);
    const thousand = await post("/v1/tokens", { count: 1000 });
    expect((thousand.body["tokens"] as unknown[]).length).toBe(1000);
    expectError(await post("/v1/tokens", { count: 1001 }), 400, "bad_request", /body\.count: must be <= 1000/);
    expectError(await post("/v1/tokens", { count: 0 }), 400, "bad_request", /body\.count: must be >= 1/);
  });

  it("answers 401 without a valid API key, before looking at the body", async () => {
    expectError(await api(auth, "POST", "/v1/tokens", { body: {} }), 401, "unauthorized", /Authorization: Basic/);
    expectError(await post("/v1/tokens", {}, "Bearer app1.key1:wrong"), 401, "unauthorized", /unknown API key or wrong secret/);
    expectError(await post("/v1/tokens", {}, "Bearer nonsense"), 401, "unauthorized", /missing or malformed API key/);
    expectError(await post("/v1/tokens", { count: "many" }, "Bearer app1.nokey:secret"), 401, "unauthorized", /unknown API key/);
  });

  it("answers 400 naming the field for every invalid claim", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ expiresIn: 0 }, /body\.expiresIn: must be >= 1/],
      [{ expiresIn: 30 * 86400 + 1 }, /body\.expiresIn: must be <= 2592000/],
      [{ expiresIn: 1.5 }, /body\.expiresIn: must be integer/],
      [{ role: "admin" }, /role "admin" is not one of subscriber, publisher, moderator/],
      [{ attributes: { a: "x".repeat(1100) } }, /attributes must be at most 1024 bytes/],
      [{ attributes: { a: { nested: 1 } } }, /body\.attributes\.a: must be string/],
      [{ data: "x".repeat(1001) }, /body\.data: must NOT have more than 1000 characters/],
      [{ clientId: "x".repeat(129) }, /body\.clientId/],
      [{ permissions: { "a.b": ["*"] } }, /permissions: invalid room pattern "a\.b"/],
      [{ permissions: { "chat:*": ["fly"] } }, /permissions\["chat:\*"\]: unknown capability "fly"/],
      [{ permissions: { chat: { subscribe: true } } }, /body\.permissions\.chat: must be array/],
      [{ sessionDurationMinutes: 0 }, /body\.sessionDurationMinutes: must be >= 1/],
      [{ colour: "red" }, /body\.colour is not allowed/],
    ];
    for (const [body, message] of cases) {
      const res = await post("/v1/tokens", body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expectError(res, 400, "bad_request", message);
    }
    expectError(await api(auth, "POST", "/v1/tokens", { auth: bearer, rawBody: "{nope" }), 400, "bad_request", /not valid JSON/);
    expectError(
      await api(auth, "POST", "/v1/tokens", { auth: bearer, rawBody: "x", contentType: "text/plain" }),
      415,
      "bad_request",
      /send the body as application\/json/,
    );
    const text = await api(auth, "POST", "/v1/tokens", { auth: bearer, rawBody: "<x/>", contentType: "application/xml" });
    expectError(text, 415, "bad_request", /application\/json/);
  });

  it("cuts permissions down to the key's ceiling", async () => {
    const { appId } = splitKey(cluster.devKey);
    const created = await post(`/v1/apps/${appId}/keys`, { permissions: { "public:*": ["subscribe", "history"] } }, admin);
    expect(created.status).toBe(201);
    const res = await post(
      "/v1/tokens",
      { permissions: { "*": ["*"], "public:news": ["publish"] } },
      `Bearer ${created.body["key"] as string}`,
    );
    expect(decodePayload(res.body["token"] as string)["permissions"]).toEqual({ "*": ["subscribe", "history"], "public:news": [] });
  });

  it("rate-limits issuance per key: 429 with Retry-After, a count costs its size", async () => {
    const limited = cluster.url("auth-limited" as never);
    const call = (body: unknown) => api(limited, "POST", "/v1/tokens", { auth: bearer, body });
    expect((await call({ count: 3 })).status).toBe(201);
    const refused = await call({});
    expectError(refused, 429, "rate_limited", /over 1 tokens\/s \(burst 3\); retry after 1 s/);
    expect(refused.headers.get("retry-after")).toBe("1");
    expectError(await call({ count: 4 }), 429, "rate_limited", /count 4 is more than key app1\.key1 may issue at once \(burst 3\)/);
    // Another key has its own bucket.
    const { appId } = splitKey(cluster.devKey);
    const other = await post(`/v1/apps/${appId}/keys`, {}, admin);
    expect((await api(limited, "POST", "/v1/tokens", { auth: `Bearer ${other.body["key"] as string}`, body: { count: 3 } })).status).toBe(
      201,
    );
  });
});

describe("POST /v1/tokens/revoke", () => {
  it("by clientId: that client's sockets close with 4004 within 5 s, others stay, later tokens work", async () => {
    const victim = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId: "eve" })));
    const bystander = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId: "bob" })));
    await victim.waitFor((f) => f.type === "connected");
    await bystander.waitFor((f) => f.type === "connected");
    const res = await post("/v1/tokens/revoke", { clientId: "eve" });
    expect(res.status).toBe(200);
    const revokedAt = res.body["revokedAt"] as number;
    expect(res.body).toEqual({ clientId: "eve", revokedAt });
    expect(await closedWithin(victim, 5000)).toBe(4004);
    expect(await bystander.request("ping")).toMatchObject({ ok: true });
    // A token issued after the revocation moment works (signed offline with a later iat, no sleeping).
    const { appId, keyId, secret } = splitKey(cluster.devKey);
    const iat = revokedAt / 1000 + 1;
    const fresh = await signToken(
      { aud: "switchboard", iat, exp: iat + 600, jti: "eve-later", clientId: "eve", permissions: { "*": ["*"] } },
      { appId, keyId, secret },
    );
    const again = openSocket(cluster.wsUrl(fresh));
    expect((await again.waitFor((f) => f.type === "connected"))["clientId"]).toBe("eve");
    again.close();
    bystander.close();
  });

  it("by jti answers {jti, revokedAt}", async () => {
    const res = await post("/v1/tokens/revoke", { jti: "some-jti" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ jti: "some-jti", revokedAt: res.body["revokedAt"] });
  });

  it("answers 400 unless exactly one of jti and clientId, and 401 without a key", async () => {
    expectError(await post("/v1/tokens/revoke", {}), 400, "bad_request", /send exactly one of jti or clientId/);
    expectError(await post("/v1/tokens/revoke", { jti: "a", clientId: "b" }), 400, "bad_request", /send exactly one of jti or clientId/);
    expectError(await post("/v1/tokens/revoke", { jti: "" }), 400, "bad_request", /body\.jti: must NOT have fewer than 1 characters/);
    expectError(await post("/v1/tokens/revoke", { jti: "a" }, "Bearer x"), 401, "unauthorized", /API key/);
  });
});

describe("admin API", () => {
  it("creates apps and keys, lists and deletes keys", async () => {
    const app = await post("/v1/apps", { name: "shop" }, admin);
    expect(app.status).toBe(201);
    const id = app.body["id"] as string;
    expect(app.body).toEqual({ id, name: "shop" });
    const k1 = await post(`/v1/apps/${id}/keys`, {}, admin);
    const k2 = await post(`/v1/apps/${id}/keys`, { permissions: { "x:*": ["subscribe"] } }, admin);
    expect(k1.status).toBe(201);
    expect(k1.body["key"]).toMatch(new RegExp(`^${id}\\.${k1.body["keyId"] as string}:[A-Za-z0-9_-]{43}$`));
    expect(k1.body["permissions"]).toBeNull();
    const list = await get(`/v1/apps/${id}/keys`, admin);
    expect(list.status).toBe(200);
    const keys = list.body["keys"] as Array<{ keyId: string; permissions: unknown; createdAt: number }>;
    expect(keys.map((k) => [k.keyId, k.permissions])).toEqual([
      [k1.body["keyId"], null],
      [k2.body["keyId"], { "x:*": ["subscribe"] }],
    ]);
    expect(JSON.stringify(list.body)).not.toContain((k1.body["key"] as string).split(":")[1]);
    // The new key works at once.
    expect((await post("/v1/tokens", {}, `Bearer ${k1.body["key"] as string}`)).status).toBe(201);
    expect((await del(`/v1/apps/${id}/keys/${k1.body["keyId"] as string}`, admin)).status).toBe(204);
    expectError(await del(`/v1/apps/${id}/keys/${k1.body["keyId"] as string}`, admin), 404, "not_found", /does not exist/);
    expectError(await post("/v1/tokens", {}, `Bearer ${k1.body["key"] as string}`), 401, "unauthorized", /unknown API key/);
  });

  it("answers 401/403/400/404 naming what to fix", async () => {
    expectError(await post("/v1/apps", { name: "x" }, "Bearer wrong-token-wrong-token"), 401, "unauthorized", /SWITCHBOARD_ADMIN_TOKEN/);
    expectError(await post("/v1/apps", { name: "x" }, bearer), 401, "unauthorized", /SWITCHBOARD_ADMIN_TOKEN/);
    const disabled = await api(cluster.url("auth-limited" as never), "POST", "/v1/apps", { auth: admin, body: { name: "x" } });
    expectError(disabled, 403, "unauthorized", /admin API is disabled: set SWITCHBOARD_ADMIN_TOKEN/);
    expectError(await post("/v1/apps", {}, admin), 400, "bad_request", /body\.name is required/);
    expectError(await post("/v1/apps/no-such-app/keys", {}, admin), 404, "not_found", /app no-such-app does not exist/);
    expectError(await get("/v1/apps/no-such-app/keys", admin), 404, "not_found", /app no-such-app does not exist/);
    expectError(await post("/v1/apps/bad.app/keys", {}, admin), 400, "bad_request", /app id must be 1-64 characters/);
    const { appId } = splitKey(cluster.devKey);
    expectError(
      await post(`/v1/apps/${appId}/keys`, { permissions: { "a b": ["*"] } }, admin),
      400,
      "bad_request",
      /body\.permissions: invalid room pattern "a b"/,
    );
  });
});

describe("sessions", () => {
  it("creates with defaults or a custom id (409 when it exists), gets and lists", async () => {
    const a = await post("/v1/sessions", {});
    expect(a.status).toBe(201);
    const sid = a.body["sessionId"] as string;
    expect(sid).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(a.body).toEqual({ sessionId: sid, mediaMode: "relayed", location: null, metadata: null, createdAt: a.body["createdAt"] });
    const b = await post("/v1/sessions", {
      customSessionId: "webinar-1",
      mediaMode: "routed",
      location: "10.0.0.1",
      metadata: { title: "Q3" },
    });
    expect(b.status).toBe(201);
    expect(b.body).toEqual({
      sessionId: "webinar-1",
      mediaMode: "routed",
      location: "10.0.0.1",
      metadata: { title: "Q3" },
      createdAt: b.body["createdAt"],
    });
    expectError(
      await post("/v1/sessions", { customSessionId: "webinar-1" }),
      409,
      "conflict",
      /body\.customSessionId: session webinar-1 already exists/,
    );

    const one = await get("/v1/sessions/webinar-1");
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ ...b.body, connections: 0 });
    const list = await get("/v1/sessions");
    const ids = (list.body["sessions"] as Array<{ sessionId: string; connections: number }>).map((s) => [s.sessionId, s.connections]);
    expect(ids).toEqual(
      expect.arrayContaining([
        [sid, 0],
        ["webinar-1", 0],
      ]),
    );
  });

  it("answers 400/401/404 naming what to fix", async () => {
    expectError(await post("/v1/sessions", { mediaMode: "p2p" }), 400, "bad_request", /body\.mediaMode/);
    expectError(
      await post("/v1/sessions", { customSessionId: "has space" }),
      400,
      "bad_request",
      /body\.customSessionId: must match pattern/,
    );
    expectError(
      await post("/v1/sessions", { metadata: "x".repeat(5000) }),
      400,
      "bad_request",
      /body\.metadata must be at most 4096 bytes/,
    );
    expectError(await post("/v1/sessions", {}, "Bearer x"), 401, "unauthorized", /API key/);
    expectError(await get("/v1/sessions/nope"), 404, "not_found", /session nope does not exist or was closed/);
    expectError(await get("/v1/sessions/bad.id"), 400, "bad_request", /session id must be 1-64 characters/);
    expectError(await del("/v1/sessions/nope"), 404, "not_found", /session nope does not exist/);
    expectError(await post("/v1/sessions/nope/tokens", {}), 404, "not_found", /session nope does not exist/);
    await post("/v1/sessions", { customSessionId: "tok-errors" });
    expectError(await post("/v1/sessions/tok-errors/tokens", { role: "boss" }), 400, "bad_request", /role "boss" is not one of/);
    expectError(
      await post("/v1/sessions/tok-errors/tokens", { expiresIn: 60, expireTime: Date.now() + 60_000 }),
      400,
      "bad_request",
      /send expiresIn or expireTime, not both/,
    );
    expectError(
      await post("/v1/sessions/tok-errors/tokens", { expireTime: Date.now() - 1000 }),
      400,
      "bad_request",
      /body\.expireTime must be epoch milliseconds in the future/,
    );
    expectError(await post("/v1/sessions/tok-errors/tokens", { count: 1001 }), 400, "bad_request", /body\.count: must be <= 1000/);
  });

  it("issues session tokens: the role on the one room session:<id>, with data, expiry and count", async () => {
    await post("/v1/sessions", { customSessionId: "s-tokens" });
    const res = await post("/v1/sessions/s-tokens/tokens", { role: "SUBSCRIBER", data: "seat 4", count: 2, clientId: "viewer" });
    expect(res.status).toBe(201);
    const tokens = res.body["tokens"] as Array<{ token: string; expiresIn: number }>;
    expect(tokens.length).toBe(2);
    const p = decodePayload(tokens[0]!.token);
    expect({
      permissions: p["permissions"],
      role: p["role"],
      data: p["data"],
      clientId: p["clientId"],
      ttl: (p["exp"] as number) - (p["iat"] as number),
    }).toEqual({
      permissions: { "session:s-tokens": SUBSCRIBER },
      role: "subscriber",
      data: "seat 4",
      clientId: "viewer",
      ttl: 900,
    });
    const def = await post("/v1/sessions/s-tokens/tokens", {});
    expect(decodePayload(def.body["token"] as string)["permissions"]).toEqual({ "session:s-tokens": PUBLISHER });
    const at = Date.now() + 120_000;
    const timed = await post("/v1/sessions/s-tokens/tokens", { expireTime: at });
    expect(Math.abs((timed.body["expiresAt"] as number) - at)).toBeLessThanOrEqual(2000);
  });

  it("counts the session's connections across gateways, and DELETE closes its sockets with 4004 and refuses its tokens", async () => {
    await post("/v1/sessions", { customSessionId: "live-1" });
    const tokens = (await post("/v1/sessions/live-1/tokens", { count: 2 })).body["tokens"] as Array<{ token: string }>;
    const socks = tokens.map((t) => openSocket(cluster.wsUrl(t.token)));
    for (const s of socks) {
      await s.waitFor((f) => f.type === "connected");
      expect(await s.request("subscribe", { room: "session:live-1" })).toMatchObject({ ok: true });
      expect(await s.request("subscribe", { room: "elsewhere" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    }
    const other = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId: "not-in-session" })));
    await other.waitFor((f) => f.type === "connected");

    expect((await get("/v1/sessions/live-1")).body["connections"]).toBe(2);

    expect((await del("/v1/sessions/live-1")).status).toBe(204);
    for (const s of socks) expect(await closedWithin(s, 5000)).toBe(4004);
    expect(await other.request("ping")).toMatchObject({ ok: true });
    const retry = openSocket(cluster.wsUrl(tokens[0]!.token));
    expect((await retry.closed).code).toBe(4004);
    expectError(await post("/v1/sessions/live-1/tokens", {}), 404, "not_found", /session live-1 does not exist or was closed/);
    expectError(await get("/v1/sessions/live-1"), 404, "not_found", /does not exist or was closed/);
    other.close();
  });
});

describe("claims through a real gateway socket", () => {
  it("clientId, sessionExp and expiry show in connected; role capabilities, attributes and data take effect", async () => {
    const pub = await post("/v1/tokens", {
      clientId: "carol",
      role: "publisher",
      attributes: { team: "red" },
      data: "carol-conn",
      sessionDurationMinutes: 5,
      expiresIn: 120,
    });
    const p = decodePayload(pub.body["token"] as string);
    const publisher = openSocket(cluster.wsUrl(pub.body["token"] as string));
    const connected = await publisher.waitFor((f) => f.type === "connected");
    expect(connected).toMatchObject({
      clientId: "carol",
      expiresAt: (p["exp"] as number) * 1000,
      sessionExpiresAt: (p["sessionExp"] as number) * 1000,
    });

    const subscriber = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId: "dave", role: "subscriber" })));
    await subscriber.waitFor((f) => f.type === "connected");
    expect(await subscriber.request("subscribe", { room: "claims:room" })).toMatchObject({ ok: true });
    expect(await subscriber.request("publish", { room: "claims:room", event: "e", data: 1 })).toMatchObject({
      ok: false,
      error: { code: "unauthorized", message: "your token lacks the publish capability on room claims:room" },
    });

    const sent = await publisher.request("publish", { room: "claims:room", event: "hello", data: { n: 1 } });
    expect(sent).toMatchObject({ ok: true });
    const push = await subscriber.waitFor((f) => f.type === "message");
    expect(push).toMatchObject({
      room: "claims:room",
      event: "hello",
      data: { n: 1 },
      clientId: "carol",
      attributes: { team: "red" },
      connectionData: "carol-conn",
    });
    publisher.close();
    subscriber.close();
  });

  it("room patterns and the key ceiling limit what a socket may do", async () => {
    const scoped = openSocket(cluster.wsUrl(await issueToken(cluster, { permissions: { "chat:*": ["subscribe"], "chat:secret": [] } })));
    await scoped.waitFor((f) => f.type === "connected");
    expect(await scoped.request("subscribe", { room: "chat:lobby" })).toMatchObject({ ok: true });
    expect(await scoped.request("subscribe", { room: "chat:secret" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    expect(await scoped.request("subscribe", { room: "news" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    scoped.close();

    // An offline token claiming everything, signed with a ceiling key: the gateway still applies the ceiling.
    const { appId } = splitKey(cluster.devKey);
    const created = await post(`/v1/apps/${appId}/keys`, { permissions: { "public:*": ["subscribe"] } }, admin);
    const k = splitKey(created.body["key"] as string);
    const now = Math.floor(Date.now() / 1000);
    const greedy = await signToken({ aud: "switchboard", iat: now, exp: now + 600, jti: "greedy", permissions: { "*": ["*"] } }, k);
    const sock = openSocket(cluster.wsUrl(greedy));
    await sock.waitFor((f) => f.type === "connected");
    expect(await sock.request("subscribe", { room: "public:x" })).toMatchObject({ ok: true });
    expect(await sock.request("subscribe", { room: "private" })).toMatchObject({ ok: false, error: { code: "unauthorized" } });
    expect(await sock.request("publish", { room: "public:x", event: "e", data: 1 })).toMatchObject({
      ok: false,
      error: { code: "unauthorized" },
    });
    sock.close();
  });
});
