/**
 * publish-ingest over HTTP against real processes (docs/HTTP-API.md): every status code, idempotency under concurrent
 * duplicates, the batch endpoint with mixed items, the Livestorm-compatible endpoint, traceparent into NATS headers,
 * and moderation (control commands to gateways, message delete from the stream).
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messageIdFromOffset } from "@switchboard/protocol";
import { HEADER_TRACEPARENT, Subjects, type ControlCommand } from "@switchboard/core";
import { startCluster, type Cluster } from "./helpers/cluster.js";
import { ingest, openStreamReader, type StreamReader } from "./helpers/ingest.js";

const APP = "app1";
let cluster: Cluster;
let stream: StreamReader;
/** A key of another app whose ceiling allows publish (no moderate) on `chat:*` only. */
let limitedKey: string;

beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest", "history"] });
  await cluster.add("publish-ingest", "ingest-limited", { SWITCHBOARD_INGEST_RATE: "1", SWITCHBOARD_INGEST_BURST: "2" });
  stream = await openStreamReader(cluster);
  const admin = { authorization: `Bearer ${cluster.adminToken}`, "content-type": "application/json" };
  const appRes = await fetch(`${cluster.url("auth")}/v1/apps`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ name: "limited" }),
  });
  const appId = ((await appRes.json()) as { id: string }).id;
  const keyRes = await fetch(`${cluster.url("auth")}/v1/apps/${appId}/keys`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ permissions: { "chat:*": ["publish"] } }),
  });
  expect(keyRes.status).toBe(201);
  limitedKey = ((await keyRes.json()) as { key: string }).key;
});

afterAll(async () => {
  await stream?.close();
  await cluster?.close();
});

const errorCode = (body: Record<string, unknown>) => (body["error"] as { code: string }).code;
const errorMessage = (body: Record<string, unknown>) => (body["error"] as { message: string }).message;

describe("POST /v1/rooms/:room/messages", () => {
  it("answers 201 {id, offset} of the stored message, with traceparent carried into its NATS headers", async () => {
    const before = await stream.lastSeq();
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const res = await ingest(
      cluster,
      "POST",
      "/v1/rooms/chat:one/messages",
      { event: "greeting", data: { n: 1 }, clientId: "srv" },
      {
        headers: { traceparent },
      },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ id: messageIdFromOffset(before + 1), offset: before + 1 });
    const stored = await stream.at(before + 1);
    expect(stored?.subject).toBe(Subjects.room(APP, "chat:one"));
    expect(stored?.body).toMatchObject({ event: "greeting", data: { n: 1 }, clientId: "srv" });
    expect(stored?.header(HEADER_TRACEPARENT)).toBe(traceparent);
  });

  it("drops a malformed traceparent instead of storing it", async () => {
    const res = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x" }, { headers: { traceparent: "garbage" } });
    expect(res.status).toBe(201);
    const stored = await stream.at(res.body["offset"] as number);
    expect(stored?.header(HEADER_TRACEPARENT)).toBe("");
    expect(stored?.body["data"]).toBeNull();
  });

  it("answers 400 naming the field for schema errors, and invalid_room for a bad room", async () => {
    const missing = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { data: 1 });
    expect(missing.status).toBe(400);
    expect(errorCode(missing.body)).toBe("bad_request");
    expect(errorMessage(missing.body)).toMatch(/event/);

    const extra = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x", colour: "red" });
    expect(extra.status).toBe(400);
    expect(errorMessage(extra.body)).toMatch(/colour/);

    const badEvent = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "has space" });
    expect(badEvent.status).toBe(400);
    expect(errorMessage(badEvent.body)).toMatch(/event/);

    const badRoom = await ingest(cluster, "POST", "/v1/rooms/a.b/messages", { event: "x" });
    expect(badRoom.status).toBe(400);
    expect(errorCode(badRoom.body)).toBe("invalid_room");
  });

  it("answers 401 without or with a wrong key, and 403 outside the key's ceiling", async () => {
    const none = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x" }, { auth: null });
    expect(none.status).toBe(401);
    expect(errorCode(none.body)).toBe("unauthorized");
    const wrong = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x" }, { auth: "Bearer app1.key1:nope" });
    expect(wrong.status).toBe(401);
    // The raw key is only accepted by the Livestorm-compatible endpoint.
    const raw = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x" }, { auth: cluster.devKey });
    expect(raw.status).toBe(401);

    const outside = await ingest(cluster, "POST", "/v1/rooms/news/messages", { event: "x" }, { auth: `Bearer ${limitedKey}` });
    expect(outside.status).toBe(403);
    expect(errorCode(outside.body)).toBe("unauthorized");
    const inside = await ingest(cluster, "POST", "/v1/rooms/chat:ok/messages", { event: "x" }, { auth: `Bearer ${limitedKey}` });
    expect(inside.status).toBe(201);
  });

  it("answers 413 for data over 64 KiB, both just over and far over the body limit", async () => {
    const before = await stream.lastSeq();
    const justOver = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x", data: "a".repeat(64 * 1024) });
    expect(justOver.status).toBe(413);
    expect(errorCode(justOver.body)).toBe("too_large");
    const farOver = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x", data: "a".repeat(200 * 1024) });
    expect(farOver.status).toBe(413);
    const fits = await ingest(cluster, "POST", "/v1/rooms/chat:one/messages", { event: "x", data: "a".repeat(64 * 1024 - 2) });
    expect(fits.status).toBe(201);
    expect(fits.body["offset"]).toBe(before + 1);
  });

  it("answers 429 with Retry-After past the per-key rate, without storing", async () => {
    const before = await stream.lastSeq();
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof ingest>> | undefined;
    for (let i = 0; i < 3; i++) {
      const res = await ingest(cluster, "POST", "/v1/rooms/chat:rate/messages", { event: "x", data: i }, { service: "ingest-limited" });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([201, 201, 429]);
    expect(limited?.headers.get("retry-after")).toBe("1");
    expect(errorCode(limited?.body ?? {})).toBe("rate_limited");
    expect(await stream.lastSeq()).toBe(before + 2);
  });
});

describe("idempotency", () => {
  it("stores N concurrent publishes with one key once and answers all of them with the same {id, offset}", async () => {
    const room = "chat:idem";
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        i % 2 === 0
          ? ingest(cluster, "POST", `/v1/rooms/${room}/messages`, { event: "x", data: "once", idempotencyKey: "k-1" })
          : ingest(cluster, "POST", `/v1/rooms/${room}/messages`, { event: "x", data: "once" }, { headers: { "idempotency-key": "k-1" } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 25 }, () => 201));
    const first = answers[0]?.body;
    for (const a of answers) expect(a.body).toEqual(first);
    expect(first?.["id"]).toBe(messageIdFromOffset(first?.["offset"] as number));
    expect(await stream.count(Subjects.room(APP, room))).toBe(1);

    const again = await ingest(cluster, "POST", `/v1/rooms/${room}/messages`, { event: "x", data: "once", idempotencyKey: "k-1" });
    expect(again.body).toEqual(first);
    const other = await ingest(cluster, "POST", `/v1/rooms/${room}/messages`, { event: "x", data: "twice", idempotencyKey: "k-2" });
    expect(other.body["offset"]).toBeGreaterThan(first?.["offset"] as number);
    expect(await stream.count(Subjects.room(APP, room))).toBe(2);
  });
});

describe("POST /v1/messages (batch)", () => {
  it("validates and stores each item on its own and answers per-item results in request order", async () => {
    const before = await stream.lastSeq();
    const res = await ingest(cluster, "POST", "/v1/messages", {
      messages: [
        { room: "chat:b1", event: "a", data: 1 },
        { room: "chat:b1", data: 2 },
        { room: "bad room", event: "a" },
        { room: "chat:b2", event: "a", data: "x".repeat(64 * 1024) },
        { room: "chat:b2", event: "b", data: { deep: [1] }, idempotencyKey: "batch-k" },
        "not an object",
        { room: "chat:b2", event: "b", data: { deep: [1] }, idempotencyKey: "batch-k" },
        { room: "chat:b1", event: "c", extra: true },
        { room: "chat:b3", event: "d" },
      ],
    });
    expect(res.status).toBe(201);
    const results = res.body["results"] as Array<Record<string, unknown>>;
    expect(results).toHaveLength(9);
    expect(results[1]).toEqual({ error: { code: "bad_request", message: "messages[1].event: Expected required property" } });
    expect(results[2]).toMatchObject({ error: { code: "invalid_room" } });
    expect(errorMessage(results[2] ?? {})).toMatch(/^messages\[2\]\.room: /);
    expect(results[3]).toMatchObject({ error: { code: "too_large" } });
    expect(errorMessage(results[3] ?? {})).toMatch(/^messages\[3\]\.data: /);
    expect(results[5]).toEqual({
      error: { code: "bad_request", message: "messages[5] must be an object {room, event, data, idempotencyKey?}" },
    });
    expect(results[7]).toEqual({ error: { code: "bad_request", message: "messages[7].extra: Unexpected property" } });
    // Items 4 and 6 share an idempotency key: one stored message, the same answer.
    expect(results[6]).toEqual(results[4]);
    const stored = [results[0], results[4], results[8]] as Array<{ id: string; offset: number }>;
    expect(stored.map((r) => r.offset).sort((a, b) => a - b)).toEqual([before + 1, before + 2, before + 3]);
    for (const r of stored) expect(r.id).toBe(messageIdFromOffset(r.offset));
    expect(await stream.lastSeq()).toBe(before + 3);
    const s0 = await stream.at((results[0] as { offset: number }).offset);
    expect(s0?.subject).toBe(Subjects.room(APP, "chat:b1"));
    expect(s0?.body).toMatchObject({ event: "a", data: 1 });
    const s8 = await stream.at((results[8] as { offset: number }).offset);
    expect(s8?.subject).toBe(Subjects.room(APP, "chat:b3"));
    expect(s8?.body).toMatchObject({ event: "d", data: null });
  });

  it("refuses an empty batch, more than 1000 items, and no messages array with 400 naming the field", async () => {
    const empty = await ingest(cluster, "POST", "/v1/messages", { messages: [] });
    expect(empty.status).toBe(400);
    expect(errorMessage(empty.body)).toMatch(/messages/);
    const tooMany = await ingest(cluster, "POST", "/v1/messages", {
      messages: Array.from({ length: 1001 }, () => ({ room: "r", event: "e" })),
    });
    expect(tooMany.status).toBe(400);
    expect(errorMessage(tooMany.body)).toMatch(/messages/);
    const none = await ingest(cluster, "POST", "/v1/messages", { items: [] });
    expect(none.status).toBe(400);
    expect(errorMessage(none.body)).toMatch(/messages/);
  });

  it("stores a full batch of 1000 with consecutive offsets", async () => {
    const before = await stream.lastSeq();
    const res = await ingest(cluster, "POST", "/v1/messages", {
      messages: Array.from({ length: 1000 }, (_, i) => ({ room: `chat:full${i % 7}`, event: "n", data: i })),
    });
    expect(res.status).toBe(201);
    const results = res.body["results"] as Array<{ id: string; offset: number }>;
    expect(results.map((r) => r.offset).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => before + 1 + i));
    const probe = results[517] as { offset: number };
    expect((await stream.at(probe.offset))?.body).toMatchObject({ data: 517 });
  });

  it("gives per-item rate_limited past the key's budget and 429 when none is left", async () => {
    const res = await ingest(
      cluster,
      "POST",
      "/v1/messages",
      { messages: [1, 2, 3, 4].map((n) => ({ room: "chat:brate", event: "x", data: n })) },
      { service: "ingest-limited", auth: `Bearer ${limitedKey}` },
    );
    expect(res.status).toBe(201);
    const results = res.body["results"] as Array<Record<string, unknown>>;
    expect(results.filter((r) => "offset" in r)).toHaveLength(2);
    expect(results.slice(2)).toEqual([
      { error: { code: "rate_limited", message: "messages[2]: over this API key's rate limit; retry it later" } },
      { error: { code: "rate_limited", message: "messages[3]: over this API key's rate limit; retry it later" } },
    ]);
    const next = await ingest(
      cluster,
      "POST",
      "/v1/messages",
      { messages: [{ room: "chat:brate", event: "x" }] },
      {
        service: "ingest-limited",
        auth: `Bearer ${limitedKey}`,
      },
    );
    expect(next.status).toBe(429);
    expect(next.headers.get("retry-after")).toBe("1");
  });
});

describe("POST /api/v1/pub_subs (Livestorm-compatible)", () => {
  const pub = (scope: Record<string, unknown>, auth: string | null = cluster.devKey) =>
    ingest(cluster, "POST", "/api/v1/pub_subs", { scope, payload: { event: { eventName: "poll.opened", data: { q: "?" } } } }, { auth });

  it("maps organization, event and session scopes to one room each, with the raw API key", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: "organization" }, "org"],
      [{ type: "event", event_id: "E1" }, "event:E1"],
      [{ type: "session", event_id: "E1", session_id: "S1" }, "session:S1"],
    ];
    for (const [scope, room] of cases) {
      const before = await stream.lastSeq();
      const res = await pub(scope);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: messageIdFromOffset(before + 1), offset: before + 1 });
      const stored = await stream.at(before + 1);
      expect(stored?.subject).toBe(Subjects.room(APP, room));
      expect(stored?.body).toMatchObject({ event: "poll.opened", data: { q: "?" } });
      expect(await stream.lastSeq()).toBe(before + 1);
    }
    // Bearer works there too.
    expect((await pub({ type: "organization" }, `Bearer ${cluster.devKey}`)).status).toBe(201);
  });

  it("requires event_id for event and session scopes, session_id for session, and a key", async () => {
    const noEvent = await pub({ type: "event" });
    expect(noEvent.status).toBe(400);
    expect(errorMessage(noEvent.body)).toBe("body.scope.event_id is required for scope type event");
    const sessionNoEvent = await pub({ type: "session", session_id: "S1" });
    expect(sessionNoEvent.status).toBe(400);
    expect(errorMessage(sessionNoEvent.body)).toBe("body.scope.event_id is required for scope type session");
    const sessionNoId = await pub({ type: "session", event_id: "E1" });
    expect(sessionNoId.status).toBe(400);
    expect(errorMessage(sessionNoId.body)).toBe("body.scope.session_id is required for scope type session");
    const badType = await pub({ type: "galaxy" });
    expect(badType.status).toBe(400);
    expect(errorMessage(badType.body)).toMatch(/scope/);
    const badId = await pub({ type: "event", event_id: "has.dot" });
    expect(badId.status).toBe(400);
    expect(errorCode(badId.body)).toBe("invalid_room");
    expect((await pub({ type: "organization" }, null)).status).toBe(401);
  });
});

describe("moderation over HTTP", () => {
  /** Stands in for `n` gateways on the app's control subject, each answering `{affected}`; records the commands. */
  const fakeGateways = (affected: number[]) => {
    const seen: ControlCommand[] = [];
    const subs = affected.map((a) =>
      stream.nc.subscribe(Subjects.control(APP), {
        callback: (_err, msg) => {
          seen.push(msg.json<ControlCommand>());
          msg.respond(JSON.stringify({ affected: a }));
        },
      }),
    );
    return { seen, stop: () => subs.forEach((s) => s.unsubscribe()), ready: stream.nc.flush() };
  };

  it("sends a disconnect to every gateway and sums their affected counts", async () => {
    const gw = fakeGateways([2, 0, 3]);
    await gw.ready;
    try {
      const res = await ingest(cluster, "POST", "/v1/rooms/chat:mod/disconnect", { clientId: "mallory", reason: "spam" });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ affected: 5 });
      expect(gw.seen).toEqual(
        Array.from({ length: 3 }, () => ({ op: "disconnect", room: "chat:mod", clientId: "mallory", reason: "spam" })),
      );
      const byConn = await ingest(cluster, "POST", "/v1/rooms/chat:mod/disconnect", { connectionId: "c-9" });
      expect(byConn.body).toEqual({ affected: 5 });
      expect(gw.seen.slice(3)).toEqual(Array.from({ length: 3 }, () => ({ op: "disconnect", room: "chat:mod", connectionId: "c-9" })));
    } finally {
      gw.stop();
    }
  });

  it("answers {affected: 0} when no gateway listens, and 400/403 for bad requests", async () => {
    const res = await ingest(cluster, "POST", "/v1/rooms/chat:mod/disconnect", { clientId: "nobody" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ affected: 0 });
    const neither = await ingest(cluster, "POST", "/v1/rooms/chat:mod/disconnect", {});
    expect(neither.status).toBe(400);
    expect(errorMessage(neither.body)).toBe("body: send exactly one of clientId or connectionId");
    const both = await ingest(cluster, "POST", "/v1/rooms/chat:mod/disconnect", { clientId: "a", connectionId: "b" });
    expect(both.status).toBe(400);
    const forbidden = await ingest(cluster, "POST", "/v1/rooms/chat:mod/disconnect", { clientId: "a" }, { auth: `Bearer ${limitedKey}` });
    expect(forbidden.status).toBe(403);
  });

  it("deletes a message from the stream and history, tells the gateways, and answers 404 after", async () => {
    const pubRes = await ingest(cluster, "POST", "/v1/rooms/chat:del/messages", { event: "x", data: "bad words" });
    const keep = await ingest(cluster, "POST", "/v1/rooms/chat:del/messages", { event: "x", data: "fine" });
    const { id, offset } = pubRes.body as { id: string; offset: number };
    const gw = fakeGateways([1]);
    await gw.ready;
    try {
      const res = await ingest(cluster, "DELETE", `/v1/rooms/chat:del/messages/${id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ affected: 1 });
      expect(gw.seen).toEqual([{ op: "delete", room: "chat:del", messageId: id, offset }]);
    } finally {
      gw.stop();
    }
    expect(await stream.at(offset)).toBeNull();
    const hist = await fetch(`${cluster.url("history")}/v1/rooms/chat:del/messages`, {
      headers: { authorization: `Bearer ${cluster.devKey}` },
    });
    const page = (await hist.json()) as { messages: Array<{ id: string }> };
    expect(page.messages.map((m) => m.id)).toEqual([keep.body["id"]]);

    const again = await ingest(cluster, "DELETE", `/v1/rooms/chat:del/messages/${id}`);
    expect(again.status).toBe(404);
    expect(errorCode(again.body)).toBe("not_found");
  });

  it("answers 404 for an id of another room, a malformed id, and 403 without moderate", async () => {
    const other = await ingest(cluster, "POST", "/v1/rooms/chat:elsewhere/messages", { event: "x" });
    const id = other.body["id"] as string;
    const wrongRoom = await ingest(cluster, "DELETE", `/v1/rooms/chat:del/messages/${id}`);
    expect(wrongRoom.status).toBe(404);
    expect(await stream.at(other.body["offset"] as number)).not.toBeNull();
    for (const bad of ["zzz", "m_0", "m_01", "m_zzzzzzzzzzzzzz"]) {
      const res = await ingest(cluster, "DELETE", `/v1/rooms/chat:del/messages/${bad}`);
      expect(res.status).toBe(404);
    }
    const forbidden = await ingest(cluster, "DELETE", `/v1/rooms/chat:elsewhere/messages/${id}`, undefined, {
      auth: `Bearer ${limitedKey}`,
    });
    expect(forbidden.status).toBe(403);
    expect(await stream.at(other.body["offset"] as number)).not.toBeNull();
  });
});

describe("strict input on every HTTP path", () => {
  it("stores and reads back a 128-character room name of every allowed character through ingest and history", async () => {
    const allowed = "AZaz09_-:@=+,;~!";
    const room = allowed.repeat(8);
    expect(room.length).toBe(128);
    const path = `/v1/rooms/${encodeURIComponent(room)}/messages`;
    const res = await ingest(cluster, "POST", path, { event: "long", data: { n: 1 } });
    expect(res.status).toBe(201);
    const page = await ingest(cluster, "GET", `${path}?limit=5`, undefined, { service: "history" });
    expect(page.status).toBe(200);
    const messages = page.body["messages"] as Array<{ room: string; event: string; data: unknown; offset: number }>;
    expect(messages.map((m) => [m.room, m.event, m.data, m.offset])).toEqual([[room, "long", { n: 1 }, res.body["offset"]]]);

    const tooLong = `/v1/rooms/${"a".repeat(129)}/messages`;
    for (const service of ["publish-ingest", "history"]) {
      const method = service === "history" ? "GET" : "POST";
      const refused = await ingest(cluster, method, tooLong, method === "POST" ? { event: "x" } : undefined, { service });
      expect([service, refused.status, errorCode(refused.body)]).toEqual([service, 400, "invalid_room"]);
    }
  });

  it("refuses coerced types, overflowing numbers, repeated keys and __proto__ instead of storing something else", async () => {
    const cases: Array<[string, string]> = [
      ['{"event":5}', "body.event: must be string"],
      ['{"event":"x","data":1e999}', "body has the number 1e999, which is too large for a double"],
      ['{"event":"x","event":"y"}', 'body repeats the key "event" in one object'],
      ['{"event":"x","data":{"__proto__":{"admin":true}}}', 'body has the key "__proto__", which is not allowed'],
    ];
    for (const [raw, message] of cases) {
      const res = await ingest(cluster, "POST", "/v1/rooms/chat:strict/messages", undefined, { raw });
      expect([raw, res.status, errorCode(res.body), errorMessage(res.body)]).toEqual([raw, 400, "bad_request", message]);
    }
    const history = await ingest(cluster, "GET", "/v1/rooms/chat:strict/messages", undefined, { service: "history" });
    expect(history.body["messages"]).toEqual([]);
  });
});

describe("GET /openapi.json", () => {
  it("is served by auth, publish-ingest and history, and docs/HTTP-API.md lists every Switchboard route in it", async () => {
    const doc = await readFile(new URL("../docs/HTTP-API.md", import.meta.url), "utf8");
    const routes: string[] = [];
    for (const service of ["auth", "publish-ingest", "history"]) {
      const res = await fetch(`${cluster.url(service as Parameters<Cluster["url"]>[0])}/openapi.json`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
      expect(body.openapi).toBe("3.0.3");
      for (const [path, ops] of Object.entries(body.paths))
        for (const method of Object.keys(ops)) routes.push(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`);
    }
    expect(routes).toContain("POST /v1/rooms/:room/messages");
    expect(routes).toContain("GET /v1/rooms/:room/messages");
    expect(routes).toContain("POST /v1/tokens");
    const own = routes.filter((r) => / \/(v1|api\/v1)\//.test(r));
    expect(own.filter((r) => !doc.includes(`\`${r}\``))).toEqual([]);
  });
});
