/**
 * history routes in process with fastify inject(): the NATS side is stubbed (a reader that records its queries,
 * fixed room state, callers from a table), so these run in milliseconds beside the real-process tests in
 * test/history-*.test.ts.
 */
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { EffectivePermissions, Permissions, SwitchboardError, type StoredMessage } from "@switchboard/protocol";
import { createLogger, readyRuntime } from "@switchboard/core";
import { buildHistoryApp } from "./app.js";
import type { Caller } from "./callers.js";
import { encodeCursor } from "./cursor.js";
import type { HistoryDeps } from "./deps.js";
import { historyMetrics } from "./metrics.js";
import type { Page, ReadQuery } from "./pager.js";

const API_KEY = "Bearer app1.key1:secret";
const TOKEN = "Bearer token-open";
const token: Caller = {
  appId: "app1",
  permissions: new EffectivePermissions(new Permissions({ "open:*": ["history"], "stats:*": ["metrics"] }), undefined),
};

const message: StoredMessage = { room: "open:1", id: "m_7", offset: 7, event: "e", data: { a: 1 }, timestamp: 1000 };
let reads: ReadQuery[] = [];
let failNext: Error | undefined;

const deps: HistoryDeps = {
  reader: {
    read: async (q) => {
      reads.push(q);
      if (failNext !== undefined) throw failNext;
      const page: Page = { messages: [message], next: null };
      return page;
    },
    lastOffset: async () => 7,
  },
  roomState: {
    presence: async () => [{ clientId: "c", connectionId: "k", data: null, joinedAt: 5 }],
    occupancy: async () => ({ connections: 2, subscribers: 1, presenceMembers: 1 }),
    rooms: async (_app, prefix, max) =>
      [
        { room: "open:1", messages: Math.min(3, max) },
        { room: "secret", messages: 1 },
      ].filter((r) => r.room.startsWith(prefix)),
  },
  retention: { effective: async () => ({ maxAgeMs: 1000, maxMessagesPerRoom: 2 }) },
  callers: {
    of: async (header) => {
      if (header === API_KEY) return { appId: "app1", permissions: undefined };
      if (header === TOKEN) return token;
      throw new SwitchboardError("unauthorized", "missing or malformed API key");
    },
  },
};

let app: FastifyInstance;
const registry = new Registry();
const metrics = historyMetrics(registry);
beforeAll(async () => {
  const log = createLogger("history", "silent");
  app = await buildHistoryApp({ nats: readyRuntime(deps), metrics }, { service: "history", registry, log });
});
afterAll(async () => {
  await app.close();
});
beforeEach(() => {
  reads = [];
  failNext = undefined;
});

/** `authorization` null: no Authorization header. */
async function get(url: string, authorization: string | null = API_KEY) {
  const res = await app.inject({ method: "GET", url, headers: authorization === null ? {} : { authorization } });
  return { status: res.statusCode, body: res.json<Record<string, unknown>>(), headers: res.headers };
}

const bad = (message: string) => ({ error: { code: "bad_request", message } });

describe("GET /v1/rooms/:room/messages", () => {
  it("reads newest first, 100 at most, by default, in the caller's app", async () => {
    expect(await get("/v1/rooms/open:1/messages")).toMatchObject({ status: 200, body: { messages: [message], next: null } });
    expect(reads).toEqual([
      {
        app: "app1",
        room: "open:1",
        limit: 100,
        direction: "backwards",
        before: undefined,
        after: undefined,
        start: undefined,
        end: undefined,
      },
    ]);
  });

  it("passes every query field, and a cursor's bounds replace the query's", async () => {
    await get("/v1/rooms/open:1/messages?limit=5&direction=forwards&after=3&before=90&start=10&end=20");
    const next = encodeCursor({ direction: "backwards", before: 40, timeResolved: true, widthHint: 12 });
    await get(`/v1/rooms/open:1/messages?limit=2&next=${next}`);
    expect(reads).toEqual([
      { app: "app1", room: "open:1", limit: 5, direction: "forwards", before: 90, after: 3, start: 10, end: 20 },
      {
        app: "app1",
        room: "open:1",
        limit: 2,
        direction: "backwards",
        before: 40,
        after: undefined,
        start: undefined,
        end: undefined,
        timeResolved: true,
        widthHint: 12,
      },
    ]);
  });

  it("refuses bad values with parseHistoryQuery's code and message, before reading", async () => {
    const cases: Array<[string, string]> = [
      ["limit=0", "limit must be an integer from 1 to 100"],
      ["limit=101", "limit must be an integer from 1 to 100"],
      ["limit=ten", "limit must be an integer from 1 to 100"],
      ["limit=5&limit=6", "limit must be an integer from 1 to 100"],
      ["direction=sideways", 'direction must be "backwards" or "forwards"'],
      ["before=0", "before must be an offset: an integer of at least 1"],
      ["after=-1", "after must be an offset: an integer of at least 0"],
      ["start=1.5", "start must be a time in epoch ms: an integer of at least 0"],
      ["end=", "end must be a time in epoch ms: an integer of at least 0"],
      [`next=${"x".repeat(513)}`, "next must be the `next` string of a page, passed back unchanged"],
      ["room=open:2", 'unknown field "room"; use limit, direction, before, after, start, end, next'],
    ];
    for (const [query, msg] of cases)
      expect(await get(`/v1/rooms/open:1/messages?${query}`)).toMatchObject({ status: 400, body: bad(msg) });
    expect(await get("/v1/rooms/open:1/messages?next=bm90LWEtY3Vyc29y")).toMatchObject({
      status: 400,
      body: bad("next is not a cursor this service issued; pass it back unchanged"),
    });
    expect(reads).toEqual([]);
  });

  it("refuses a bad room name with invalid_room", async () => {
    const res = await get("/v1/rooms/bad.room/messages");
    expect(res.status).toBe(400);
    expect((res.body["error"] as { code: string }).code).toBe("invalid_room");
  });

  it("answers 401 without credentials and 403 for a token without history on the room", async () => {
    expect(await get("/v1/rooms/open:1/messages", null)).toMatchObject({
      status: 401,
      body: { error: { code: "unauthorized", message: "missing or malformed API key" } },
    });
    expect(await get("/v1/rooms/secret/messages", TOKEN)).toMatchObject({
      status: 403,
      body: { error: { code: "unauthorized", message: "token lacks the history capability on room secret" } },
    });
    expect(await get("/v1/rooms/open:1/messages", TOKEN)).toMatchObject({ status: 200 });
    expect(reads.map((q) => q.room)).toEqual(["open:1"]);
  });

  it("answers 503 with Retry-After when JetStream cannot be read, and counts the failure", async () => {
    const before = (await metrics.requests.get()).values;
    failNext = new Error("nats gone");
    const res = await get("/v1/rooms/open:1/messages");
    expect(res).toMatchObject({ status: 503, body: { error: { code: "unavailable", message: "JetStream could not be read; retry" } } });
    expect(res.headers["retry-after"]).toBe("1");
    const after = (await metrics.requests.get()).values;
    const errors = (vs: typeof after) => vs.find((v) => v.labels["source"] === "http" && v.labels["result"] === "error")?.value ?? 0;
    expect(errors(after) - errors(before)).toBe(1);
  });
});

describe("presence, occupancy and active rooms", () => {
  it("answers presence and occupancy for the capabilities that allow them", async () => {
    expect(await get("/v1/rooms/open:1/presence")).toMatchObject({
      status: 200,
      body: { members: [{ clientId: "c", connectionId: "k", data: null, joinedAt: 5 }] },
    });
    expect(await get("/v1/rooms/stats:1/occupancy", TOKEN)).toMatchObject({
      status: 200,
      body: { connections: 2, subscribers: 1, presenceMembers: 1 },
    });
    expect((await get("/v1/rooms/stats:1/presence", TOKEN)).status).toBe(403);
  });

  it("lists active rooms, capped at the app's retention count, only those a token may read", async () => {
    expect((await get("/v1/rooms")).body).toEqual({
      rooms: [
        { room: "open:1", messages: 2 },
        { room: "secret", messages: 1 },
      ],
    });
    expect((await get("/v1/rooms?prefix=open", TOKEN)).body).toEqual({ rooms: [{ room: "open:1", messages: 2 }] });
    expect((await get("/v1/rooms?prefx=open")).status).toBe(400);
  });
});

describe("GET /openapi.json", () => {
  it("documents the history query string the handler reads itself", async () => {
    const { status, body } = await get("/openapi.json");
    expect(status).toBe(200);
    const op = (body as { paths: Record<string, { get: { parameters: Array<{ name: string; in: string }> } }> }).paths[
      "/v1/rooms/{room}/messages"
    ];
    expect(op?.get.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
      "path:room",
      "query:limit",
      "query:direction",
      "query:before",
      "query:after",
      "query:start",
      "query:end",
      "query:next",
    ]);
  });
});
