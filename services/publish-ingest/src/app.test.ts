/**
 * publish-ingest routes in process with fastify inject(): keys held in memory, a publisher that records what it is
 * asked to store and answers as JetStream would, moderation stubbed. Milliseconds each, beside the real-process
 * tests in test/ingest-*.test.ts (which store through a real nats-server).
 */
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { messageIdFromOffset, type PermissionMap } from "@switchboard/protocol";
import {
  StoreError,
  Subjects,
  authenticateApiKey,
  createLogger,
  readyRuntime,
  resolveKey,
  type AckPublisher,
  type AckPublishOptions,
  type ApiKeyAuthenticator,
  type ControlCommand,
  type PublishAck,
  type ResolvedKey,
} from "@switchboard/core";
import { buildIngestApp } from "./app.js";
import type { IngestDeps } from "./deps.js";
import { ingestMetrics } from "./metrics.js";
import { createRateLimiter } from "./ratelimit.js";

const SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret-xx";
const KEYS = new Map<string, ResolvedKey>(
  [
    resolveKey({ appId: "app1", keyId: "key1", secret: SECRET }),
    resolveKey({ appId: "app1", keyId: "news", secret: SECRET, permissions: { "news:*": ["publish"] } satisfies PermissionMap }),
  ].map((k) => [k.kid, k]),
);
const AUTH = `Bearer app1.key1:${SECRET}`;

/** The keys above, checked as KeyRegistry checks keys (same header parsing and comparison). */
const keys: ApiKeyAuthenticator = {
  authenticate: (header, options = {}) => authenticateApiKey(header, options, (kid) => Promise.resolve(KEYS.get(kid))),
};

interface Stored {
  subject: string;
  body: Record<string, unknown>;
  opts: AckPublishOptions;
}
const stored: Stored[] = [];
/** When set, every publish fails as a publish JetStream never acknowledged. */
let storeFails = false;
const publisher: AckPublisher = {
  publish(subject, body, opts): Promise<PublishAck> {
    if (storeFails) return Promise.reject(new StoreError("no PubAck within 2000 ms"));
    stored.push({ subject, body: JSON.parse(body) as Record<string, unknown>, opts });
    return Promise.resolve({ seq: stored.length, duplicate: false });
  },
  close: () => undefined,
};
const commands: Array<{ app: string; cmd: ControlCommand }> = [];

let app: FastifyInstance;
beforeAll(async () => {
  const deps: IngestDeps = {
    keys,
    publisher,
    moderation: {
      command: (appId, cmd) => {
        commands.push({ app: appId, cmd });
        return Promise.resolve(2);
      },
      deleteMessage: () => Promise.reject(new Error("deleteMessage is not stubbed")),
    },
  };
  const registry = new Registry();
  app = await buildIngestApp(
    { nats: readyRuntime(deps), metrics: ingestMetrics(registry), limiter: createRateLimiter({ rate: 0, burst: 1 }) },
    { service: "publish-ingest", registry, log: createLogger("publish-ingest", "silent") },
  );
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  stored.length = 0;
  commands.length = 0;
  storeFails = false;
});

/** POSTs `body` with `authorization` (the good key when absent; null sends no Authorization header). */
async function post(url: string, body: unknown, authorization: string | null = AUTH) {
  const res = await app.inject({ method: "POST", url, payload: body as object, headers: authorization === null ? {} : { authorization } });
  return { status: res.statusCode, headers: res.headers, body: res.json<Record<string, unknown>>() };
}

describe("POST /v1/rooms/:room/messages", () => {
  it("refuses a request without an API key with 401 and stores nothing", async () => {
    const res = await post("/v1/rooms/chat/messages", { event: "e", data: 1 }, null);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: {
        code: "unauthorized",
        message: "missing or malformed API key: send Authorization: Basic base64(appId.keyId:secret) or Bearer appId.keyId:secret",
      },
    });
    expect(stored).toEqual([]);
  });

  it("checks the key before the body: a bad body from a caller without a valid key is 401 on every route", async () => {
    for (const [url, body] of [
      ["/v1/rooms/chat/messages", { data: 1 }],
      ["/v1/messages", { messages: "nope" }],
      ["/api/v1/pub_subs", {}],
      ["/v1/rooms/chat/disconnect", { nope: 1 }],
    ] as const) {
      for (const authorization of [null, `Bearer app1.key1:${"x".repeat(SECRET.length)}`]) {
        const res = await post(url, body, authorization);
        expect([url, res.status, (res.body["error"] as { code: string }).code]).toEqual([url, 401, "unauthorized"]);
      }
    }
    expect(stored).toEqual([]);
  });

  it("names the field of a schema error", async () => {
    const res = await post("/v1/rooms/chat/messages", { data: 1 });
    expect(res.status).toBe(400);
    expect(res.body["error"]).toMatchObject({
      code: "bad_request",
      message: "body.event is required: must have required property 'event'",
    });
    expect(stored).toEqual([]);
  });

  it("refuses a room outside the key's ceiling with 403", async () => {
    const res = await post("/v1/rooms/chat/messages", { event: "e", data: 1 }, `Bearer app1.news:${SECRET}`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: { code: "unauthorized", message: 'API key app1.news may not publish in room "chat"' } });
  });

  it("answers 201 with the stored id and offset, after the publisher acknowledged", async () => {
    const res = await post("/v1/rooms/chat/messages", { event: "greet", data: { hi: 1 }, clientId: "bob", idempotencyKey: "k1" });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: messageIdFromOffset(1), offset: 1 });
    expect(stored).toHaveLength(1);
    expect(stored[0]?.subject).toBe(Subjects.room("app1", "chat"));
    expect(stored[0]?.opts).toEqual({ msgID: "app1:k1", traceparent: undefined });
    expect(stored[0]?.body).toMatchObject({ event: "greet", data: { hi: 1 }, clientId: "bob" });
  });

  it("answers 503 with Retry-After when the store is not acknowledged", async () => {
    storeFails = true;
    const res = await post("/v1/rooms/chat/messages", { event: "e", data: 1 });
    expect(res.status).toBe(503);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.body).toEqual({ error: { code: "unavailable", message: "JetStream could not store the message; retry" } });
  });
});

describe("POST /v1/messages (batch)", () => {
  it("stores the valid items and names the field of each bad one, in request order", async () => {
    const res = await post("/v1/messages", {
      messages: [
        { room: "a", event: "e", data: 1 },
        { room: "a", data: 2 },
        { room: "b c", event: "e", data: 3 },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body["results"]).toEqual([
      { id: messageIdFromOffset(1), offset: 1 },
      { error: { code: "bad_request", message: "messages[1].event: Expected required property" } },
      {
        error: {
          code: "invalid_room",
          message: 'messages[2].room: invalid room name "b c": use 1-128 characters from A-Z a-z 0-9 _ - : @ = + , ; ~ !',
        },
      },
    ]);
    expect(stored.map((s) => s.subject)).toEqual([Subjects.room("app1", "a")]);
  });
});

describe("POST /v1/rooms/:room/disconnect", () => {
  it("sends one disconnect command and answers the gateways' count", async () => {
    const res = await post("/v1/rooms/chat/disconnect", { clientId: "bob", reason: "bye" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected: 2 });
    expect(commands).toEqual([{ app: "app1", cmd: { op: "disconnect", room: "chat", clientId: "bob", reason: "bye" } }]);
  });

  it("refuses both clientId and connectionId", async () => {
    const res = await post("/v1/rooms/chat/disconnect", { clientId: "bob", connectionId: "c1" });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: "bad_request", message: "body: send exactly one of clientId or connectionId" } });
    expect(commands).toEqual([]);
  });
});
