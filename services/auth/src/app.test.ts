/**
 * auth routes in process with fastify inject(): the NATS side is stubbed (keys held in memory; buckets unused by
 * these routes throw), so these run in milliseconds beside the real-process tests in test/auth-*.test.ts.
 */
import { createHmac } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { SecretBox, authenticateApiKey, createLogger, readyRuntime, resolveKey, type ApiKeyAuthenticator } from "@switchboard/core";
import { buildAuthApp } from "./app.js";
import type { AuthDeps } from "./deps.js";
import { createIssuer } from "./issuer.js";
import { authMetrics } from "./metrics.js";
import { IssuanceLimiter } from "./ratelimit.js";

const KEY = resolveKey({ appId: "app1", keyId: "key1", secret: "s3cret-s3cret-s3cret-s3cret-s3cret-xx" });
const API_KEY = `${KEY.kid}:${KEY.secret}`;
const ADMIN_TOKEN = "admin-token-0123456789";

/** The one key, checked as KeyRegistry checks keys (same header parsing and comparison). */
const keys: ApiKeyAuthenticator = {
  authenticate: (header, options = {}) => authenticateApiKey(header, options, (kid) => Promise.resolve(kid === KEY.kid ? KEY : undefined)),
};

/** A NATS-side dependency these routes must not touch: any use fails the test. */
function unused(name: string): never {
  return new Proxy({} as never, {
    get: (_t, prop) => {
      throw new Error(`${name}.${String(prop)} was used, but this test did not stub it`);
    },
  });
}

let app: FastifyInstance;
beforeAll(async () => {
  const deps: AuthDeps = {
    nc: unused("nc"),
    apps: unused("apps"),
    keysKv: unused("keysKv"),
    sessions: unused("sessions"),
    revocations: unused("revocations"),
    keys,
    keyById: unused("keyById"),
    publisher: unused("publisher"),
    moderation: unused("moderation"),
    mutes: unused("mutes"),
    rooms: unused("rooms"),
    presence: unused("presence"),
  };
  const registry = new Registry();
  const log = createLogger("auth", "silent");
  const metrics = authMetrics(registry);
  app = await buildAuthApp(
    {
      nats: readyRuntime(deps),
      box: new SecretBox(Buffer.alloc(32, 7)),
      adminToken: ADMIN_TOKEN,
      issuer: createIssuer({ limiter: new IssuanceLimiter({ rate: 1000, burst: 5000 }), metrics }),
      log,
      metrics,
      publicGatewayUrl: "ws://127.0.0.1:8080",
    },
    { service: "auth", registry, log },
  );
});
afterAll(async () => {
  await app.close();
});

async function post(url: string, body: unknown, authorization?: string) {
  const res = await app.inject({
    method: "POST",
    url,
    payload: body as object,
    headers: authorization === undefined ? {} : { authorization },
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

/** The error's code and message (its `details` carry the validator's own report). */
function errorOf(body: Record<string, unknown>): { code: unknown; message: unknown } {
  const e = body["error"] as Record<string, unknown>;
  return { code: e["code"], message: e["message"] };
}

describe("POST /v1/tokens", () => {
  it("refuses a request without an API key with 401, before looking at the body", async () => {
    const res = await post("/v1/tokens", { expiresIn: "soon" });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: {
        code: "unauthorized",
        message: "missing or malformed API key: send Authorization: Basic base64(appId.keyId:secret) or Bearer appId.keyId:secret",
      },
    });
  });

  it("refuses a wrong secret, as Bearer and as Basic", async () => {
    const wrong = `${KEY.kid}:${KEY.secret}x`;
    for (const header of [`Bearer ${wrong}`, `Basic ${Buffer.from(wrong).toString("base64")}`]) {
      const res = await post("/v1/tokens", {}, header);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { code: "unauthorized", message: "unknown API key or wrong secret" } });
    }
  });

  it("names the field of a schema error", async () => {
    const bad = await post("/v1/tokens", { expiresIn: "soon" }, `Bearer ${API_KEY}`);
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body)).toEqual({ code: "bad_request", message: "body.expiresIn: must be integer" });
    const extra = await post("/v1/tokens", { clientId: "a", colour: "red" }, `Bearer ${API_KEY}`);
    expect(extra.status).toBe(400);
    expect(errorOf(extra.body)).toEqual({
      code: "bad_request",
      message: "body.colour is not allowed: must NOT have additional properties",
    });
  });

  it("issues a token signed with the key, with the asked claims", async () => {
    const res = await post("/v1/tokens", { clientId: "alice", expiresIn: 60 }, `Bearer ${API_KEY}`);
    expect(res.status).toBe(201);
    expect(res.body["clientId"]).toBe("alice");
    expect(res.body["expiresIn"]).toBe(60);
    const [header, payload, signature] = (res.body["token"] as string).split(".") as [string, string, string];
    expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT", kid: KEY.kid });
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    expect(claims["clientId"]).toBe("alice");
    expect((claims["exp"] as number) - (claims["iat"] as number)).toBe(60);
    expect(signature).toBe(createHmac("sha256", KEY.secret).update(`${header}.${payload}`).digest("base64url"));
  });
});

describe("POST /v1/tokens/revoke", () => {
  it("refuses a body with both jti and clientId before touching NATS", async () => {
    const res = await post("/v1/tokens/revoke", { jti: "j", clientId: "c" }, `Bearer ${API_KEY}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: "bad_request", message: "body: send exactly one of jti or clientId" } });
  });
});

describe("admin API", () => {
  it("refuses a missing or wrong admin token with 401, an API key included", async () => {
    for (const header of [undefined, `Bearer ${ADMIN_TOKEN}x`, `Bearer ${API_KEY}`]) {
      const res = await post("/v1/apps", { name: "x" }, header);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({
        error: { code: "unauthorized", message: "admin API: send Authorization: Bearer $SWITCHBOARD_ADMIN_TOKEN" },
      });
    }
  });

  it("names the field of a schema error once the admin token is right", async () => {
    const res = await post("/v1/apps", { name: "" }, `Bearer ${ADMIN_TOKEN}`);
    expect(res.status).toBe(400);
    expect(errorOf(res.body)).toEqual({ code: "bad_request", message: "body.name: must NOT have fewer than 1 characters" });
  });
});
