/**
 * OpenVidu routes in process (fastify inject(), NATS side stubbed): auth, input validation and the 501s answered in
 * OpenVidu's format before any NATS use. The real openvidu-node-client against real services is in
 * test/vendor-openvidu.test.ts.
 */
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { SecretBox, authenticateApiKey, createLogger, readyRuntime, resolveKey } from "@switchboard/core";
import { buildAuthApp } from "../../app.js";
import type { AuthDeps } from "../../deps.js";
import { createIssuer } from "../../issuer.js";
import { authMetrics } from "../../metrics.js";
import { IssuanceLimiter } from "../../ratelimit.js";

const KEY = resolveKey({ appId: "app1", keyId: "key1", secret: "s3cret-s3cret-s3cret-s3cret-s3cret-xx" });
const BASIC = `Basic ${Buffer.from(`OPENVIDUAPP:${KEY.kid}:${KEY.secret}`).toString("base64")}`;

function unused(name: string): never {
  return new Proxy({} as never, {
    get: (_t, prop) => {
      throw new Error(`${name}.${String(prop)} was used, but this test did not stub it`);
    },
  });
}

let app: FastifyInstance;
let registry: Registry;
beforeAll(async () => {
  const deps: AuthDeps = {
    nc: unused("nc"),
    apps: unused("apps"),
    keysKv: unused("keysKv"),
    sessions: unused("sessions"),
    revocations: unused("revocations"),
    keys: { authenticate: (h, o = {}) => authenticateApiKey(h, o, (kid) => Promise.resolve(kid === KEY.kid ? KEY : undefined)) },
    keyById: unused("keyById"),
    publisher: unused("publisher"),
    moderation: unused("moderation"),
    mutes: unused("mutes"),
    rooms: unused("rooms"),
    presence: unused("presence"),
  };
  registry = new Registry();
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

async function call(method: "GET" | "POST" | "DELETE" | "PATCH", url: string, body?: unknown, authorization: string | null = BASIC) {
  const res = await app.inject({
    method,
    url,
    ...(body !== undefined ? { payload: body as object } : {}),
    headers: authorization === null ? {} : { authorization },
  });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
}

describe("OpenVidu auth", () => {
  it("answers 401 in OpenVidu's error format without credentials, with another user name, or a wrong key", async () => {
    const wrongUser = `Basic ${Buffer.from(`admin:${KEY.kid}:${KEY.secret}`).toString("base64")}`;
    const wrongSecret = `Basic ${Buffer.from(`OPENVIDUAPP:${KEY.kid}:nope`).toString("base64")}`;
    for (const header of [null, wrongUser, wrongSecret, `Bearer ${KEY.kid}:${KEY.secret}`]) {
      const res = await call("POST", "/openvidu/api/sessions", {}, header);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ status: 401, error: "Unauthorized", path: "/openvidu/api/sessions" });
      expect(typeof res.body["timestamp"]).toBe("number");
    }
  });
});

describe("OpenVidu input", () => {
  it("refuses bad values with 400 naming the field", async () => {
    const cases: Array<[unknown, string]> = [
      [{ mediaMode: "MESH" }, "body.mediaMode: must be equal to one of the allowed values"],
      [{ customSessionId: "has space" }, 'body.customSessionId: must match pattern "^[A-Za-z0-9_-]*$"'],
      [{ customSessionId: "x".repeat(65) }, "body.customSessionId: must NOT have more than 64 characters"],
      [{ colour: "red" }, "body.colour is not allowed"],
    ];
    for (const [body, message] of cases) {
      const res = await call("POST", "/openvidu/api/sessions", body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ status: 400, error: "Bad Request", message });
    }
    const data = await call("POST", "/openvidu/api/sessions/s1/connection", { data: "x".repeat(1001) });
    expect(data.body).toMatchObject({ status: 400, message: "body.data: must NOT have more than 1000 characters" });
    const role = await call("POST", "/openvidu/api/tokens", { session: "s1", role: "ADMIN" });
    expect(role.body).toMatchObject({ status: 400, message: "body.role: must be equal to one of the allowed values" });
  });

  it("answers 501 for recording, broadcast and recordingMode ALWAYS", async () => {
    for (const [method, url] of [
      ["POST", "/openvidu/api/recordings/start"],
      ["GET", "/openvidu/api/recordings"],
      ["DELETE", "/openvidu/api/recordings/r1"],
      ["POST", "/openvidu/api/broadcast/start"],
    ] as const) {
      const res = await call(method, url, method === "POST" ? { session: "s1" } : undefined);
      expect(res.status).toBe(501);
      expect(res.body).toMatchObject({ status: 501, error: "Not Implemented" });
    }
    const always = await call("POST", "/openvidu/api/sessions", { recordingMode: "ALWAYS" });
    expect(always.status).toBe(501);
  });

  it("answers an unknown route with 404 in OpenVidu's format", async () => {
    const res = await call("GET", "/openvidu/api/nothing");
    expect(res.body).toMatchObject({ status: 404, error: "Not Found", path: "/openvidu/api/nothing" });
  });

  it("counts requests and failures by reason", async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/switchboard_auth_vendor_requests_total\{vendor="openvidu"\} \d+/);
    expect(text).toMatch(/switchboard_auth_vendor_failures_total\{vendor="openvidu",reason="not_supported"\} 5/);
  });
});
