/**
 * The OpenTok and IVS Chat routes in process (fastify inject(), NATS side stubbed): what each answers before any
 * NATS use, in its vendor's format. The real SDKs against real services are in test/vendor-*.test.ts.
 */
import { createHmac } from "node:crypto";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { SecretBox, authenticateApiKey, createLogger, readyRuntime, resolveKey } from "@switchboard/core";
import { buildAuthApp } from "../app.js";
import type { AuthDeps } from "../deps.js";
import { createIssuer } from "../issuer.js";
import { authMetrics } from "../metrics.js";
import { IssuanceLimiter } from "../ratelimit.js";

const KEY = resolveKey({ appId: "app1", keyId: "key1", secret: "s3cret-s3cret-s3cret-s3cret-s3cret-xx" });

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
    keys: { authenticate: (h, o = {}) => authenticateApiKey(h, o, (kid) => Promise.resolve(kid === KEY.kid ? KEY : undefined)) },
    keyById: (kid) => Promise.resolve(kid === KEY.kid ? KEY : undefined),
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
      adminToken: undefined,
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

function projectJwt(claims: Record<string, unknown>, secret = KEY.secret): string {
  const input = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

describe("OpenTok routes", () => {
  it("answer 401 {code, message} as JSON without a valid X-OPENTOK-AUTH", async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const headers of [
      {},
      { "x-opentok-auth": "nope" },
      // A JWT whose header and payload are JSON null: refused, not read (it answered 500).
      { "x-opentok-auth": "bnVsbA.bnVsbA.x" },
      { "x-opentok-auth": projectJwt({ iss: KEY.kid, ist: "project", iat: now, exp: now + 300 }, "x") },
    ]) {
      const res = await app.inject({
        method: "POST",
        url: "/session/create",
        headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
        payload: "archiveMode=manual",
      });
      expect(res.statusCode).toBe(401);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.json<{ code: number }>().code).toBe(401);
    }
  });

  it("refuses unknown form fields and answers 501 for archiving, media routes and another project's path", async () => {
    const now = Math.floor(Date.now() / 1000);
    const auth = { "x-opentok-auth": projectJwt({ iss: KEY.kid, ist: "project", iat: now, exp: now + 300 }) };
    const form = { ...auth, "content-type": "application/x-www-form-urlencoded" };
    const extra = await app.inject({ method: "POST", url: "/session/create", headers: form, payload: "colour=red" });
    expect(extra.json()).toEqual({ code: 400, message: "body.colour is not allowed" });
    const always = await app.inject({ method: "POST", url: "/session/create", headers: form, payload: "archiveMode=always" });
    expect(always.statusCode).toBe(501);
    const archive = await app.inject({ method: "POST", url: `/v2/project/${KEY.kid}/archive`, headers: auth, payload: {} });
    expect(archive.statusCode).toBe(501);
    const other = await app.inject({
      method: "POST",
      url: "/v2/project/other.key/session/s1/signal",
      headers: auth,
      payload: { data: "x" },
    });
    expect(other.statusCode).toBe(403);
  });
});

describe("IVS Chat routes", () => {
  it("answer an unsigned request 403 MissingAuthenticationTokenException, AWS-shaped", async () => {
    const res = await app.inject({ method: "POST", url: "/CreateRoom", payload: {} });
    expect(res.statusCode).toBe(403);
    expect(res.headers["x-amzn-errortype"]).toBe("MissingAuthenticationTokenException");
    expect(res.json()).toEqual({ message: "Missing Authentication Token" });
  });

  it("answer a signature from an unknown key 403 UnrecognizedClientException", async () => {
    const date = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}/, "");
    const res = await app.inject({
      method: "POST",
      url: "/CreateRoom",
      payload: {},
      headers: {
        "x-amz-date": date,
        authorization: `AWS4-HMAC-SHA256 Credential=nobody.none/${date.slice(0, 8)}/us-west-2/ivschat/aws4_request, SignedHeaders=host;x-amz-date, Signature=${"0".repeat(64)}`,
      },
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers["x-amzn-errortype"]).toBe("UnrecognizedClientException");
  });
});
