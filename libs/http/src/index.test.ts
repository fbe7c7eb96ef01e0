/**
 * The shared HTTP shell: strict bodies, coerced query strings, the contract's error body for every failure fastify
 * or Node produce (404, 408, 413, 414-sized params, 415, malformed HTTP), in process with inject() and, for what
 * only a socket shows (timeouts, bad bytes), over a real listening port.
 */
import { connect } from "node:net";
import { Type } from "@sinclair/typebox";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { createLogger } from "@switchboard/core";
import { MAX_JSON_DEPTH, ROOM_MAX } from "@switchboard/protocol";
import { createHttpService } from "./index.js";

let app: FastifyInstance;
let port = 0;

beforeAll(async () => {
  app = createHttpService({
    service: "test",
    log: createLogger("test", "silent"),
    registry: new Registry(),
    ready: () => true,
    bodyLimit: 4096,
    requestTimeoutMs: 500,
  });
  app.post(
    "/rooms/:room",
    {
      schema: {
        params: Type.Object({ room: Type.String({ maxLength: 1024 }) }),
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })) }),
        body: Type.Object({ event: Type.String(), n: Type.Optional(Type.Number()), data: Type.Optional(Type.Unknown()) }),
      },
    },
    async (req) => ({ params: req.params, query: req.query, body: req.body }),
  );
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  port = address.port;
});
afterAll(async () => {
  await app.close();
});

async function post(payload: string, url = "/rooms/r1"): Promise<{ status: number; body: unknown }> {
  const res = await app.inject({ method: "POST", url, payload, headers: { "content-type": "application/json" } });
  return { status: res.statusCode, body: res.json() };
}

/** Sends raw bytes and returns everything the server answers before it closes. */
function raw(bytes: string, pauseAfterMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(text));
    socket.write(bytes);
    if (pauseAfterMs > 0) setTimeout(() => socket.end(), pauseAfterMs);
  });
}

function bodyOf(response: string): unknown {
  return JSON.parse(response.slice(response.indexOf("\r\n\r\n") + 4));
}

describe("strict JSON bodies", () => {
  it("accepts a plain body and keeps its values", async () => {
    const res = await post('{"event":"e","n":1.5,"data":{"a":[1,{"b":null}]}}');
    expect(res).toEqual({
      status: 200,
      body: { params: { room: "r1" }, query: {}, body: { event: "e", n: 1.5, data: { a: [1, { b: null }] } } },
    });
  });

  it("does not coerce body types: a number where a string is due is refused", async () => {
    expect(await post('{"event":5}')).toEqual({
      status: 400,
      body: { error: { code: "bad_request", message: "body.event: must be string", details: expect.any(Array) as unknown } },
    });
  });

  it("refuses numbers too large for a double instead of storing Infinity", async () => {
    const res = await post('{"event":"e","n":1e999}');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: "bad_request", message: "body has the number 1e999, which is too large for a double" } });
  });

  it("refuses a repeated key, __proto__ and constructor.prototype", async () => {
    expect((await post('{"event":"a","event":"b"}')).body).toEqual({
      error: { code: "bad_request", message: 'body repeats the key "event" in one object' },
    });
    expect((await post('{"event":"a","data":{"__proto__":{"x":1}}}')).body).toEqual({
      error: { code: "bad_request", message: 'body has the key "__proto__", which is not allowed' },
    });
    expect((await post('{"event":"a","data":{"constructor":{"prototype":{}}}}')).body).toEqual({
      error: { code: "bad_request", message: 'body has the key "prototype", which is not allowed' },
    });
  });

  it(`bounds nesting at ${MAX_JSON_DEPTH} levels`, async () => {
    const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth);
    expect((await post(`{"event":"a","data":${nested(MAX_JSON_DEPTH - 1)}}`)).status).toBe(200);
    expect((await post(`{"event":"a","data":${nested(MAX_JSON_DEPTH)}}`)).body).toEqual({
      error: { code: "bad_request", message: `body nests deeper than ${MAX_JSON_DEPTH} levels; flatten it` },
    });
  });

  it("names bad JSON, an empty body, a wrong media type and a body over the limit in the contract's shape", async () => {
    const bad = await post('{"event":');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      error: { code: "bad_request", message: expect.stringMatching(/^body is not valid JSON: /) as unknown },
    });
    const empty = await app.inject({ method: "POST", url: "/rooms/r1", headers: { "content-type": "application/json" } });
    expect([empty.statusCode, empty.json()]).toEqual([
      400,
      { error: { code: "bad_request", message: "request body is empty; send a JSON object" } },
    ]);
    const text = await app.inject({ method: "POST", url: "/rooms/r1", payload: "x", headers: { "content-type": "text/plain" } });
    expect([text.statusCode, text.json()]).toEqual([415, { error: { code: "bad_request", message: "send the body as application/json" } }]);
    const big = await post(JSON.stringify({ event: "e", data: "x".repeat(5000) }));
    expect(big).toEqual({ status: 413, body: { error: { code: "too_large", message: "request body is too large" } } });
  });
});

describe("paths and query strings", () => {
  it("coerces query strings to the schema's types and refuses what does not fit", async () => {
    expect((await post('{"event":"e"}', "/rooms/r1?limit=10")).body).toMatchObject({ query: { limit: 10 } });
    expect((await post('{"event":"e"}', "/rooms/r1?limit=ten")).body).toMatchObject({
      error: { code: "bad_request", message: "querystring.limit: must be integer" },
    });
  });

  it(`takes a ${ROOM_MAX}-character room name, percent-encoded or not, without a framework 414`, async () => {
    const room = "a".repeat(ROOM_MAX);
    expect((await post('{"event":"e"}', `/rooms/${room}`)).body).toMatchObject({ params: { room } });
    const encoded = "%3A".repeat(ROOM_MAX);
    expect((await post('{"event":"e"}', `/rooms/${encoded}`)).body).toMatchObject({ params: { room: ":".repeat(ROOM_MAX) } });
    const tooLong = await post('{"event":"e"}', `/rooms/${"a".repeat(1025)}`);
    expect(tooLong).toMatchObject({ status: 400, body: { error: { code: "bad_request" } } });
    // Past the router's parameter limit, and a malformed escape: the router's refusals in the contract's shape.
    const pastRouter = await post('{"event":"e"}', `/rooms/${"a".repeat(3000)}`);
    expect(pastRouter).toEqual({
      status: 414,
      body: {
        error: { code: "bad_request", message: "a path parameter is over 2048 characters (room names are at most 128); shorten it" },
      },
    });
    const badEscape = await post('{"event":"e"}', "/rooms/%E0%A4%A");
    expect(badEscape).toEqual({
      status: 400,
      body: { error: { code: "bad_request", message: "the URL has a malformed percent escape; encode it with encodeURIComponent" } },
    });
  });

  it("answers an unknown route with not_found", async () => {
    const res = await app.inject({ method: "GET", url: "/nope?token=secret" });
    expect([res.statusCode, res.json()]).toEqual([404, { error: { code: "not_found", message: "no route GET /nope" } }]);
  });
});

describe("GET /openapi.json", () => {
  it("describes every declared route from its schemas, without the health and metrics routes", async () => {
    const doc = (await app.inject({ method: "GET", url: "/openapi.json" })).json<{
      openapi: string;
      paths: Record<string, Record<string, { parameters: unknown[]; requestBody: unknown; operationId: string }>>;
    }>();
    expect(doc.openapi).toBe("3.0.3");
    expect(Object.keys(doc.paths)).toEqual(["/rooms/{room}"]);
    const op = doc.paths["/rooms/{room}"]?.["post"];
    expect(op?.operationId).toBe("postRoomsRoom");
    expect(op?.parameters).toEqual([
      { name: "room", in: "path", required: true, schema: { type: "string", maxLength: 1024 } },
      { name: "limit", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 100 } },
    ]);
    expect(op?.requestBody).toMatchObject({
      required: true,
      content: { "application/json": { schema: { type: "object", required: ["event"] } } },
    });
  });
});

describe("failures before routing, over a real socket", () => {
  it("answers a request whose body does not arrive in time with 408 and the contract's body", async () => {
    const started = Date.now();
    const response = await raw(
      "POST /rooms/r1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
      10_000,
    );
    expect(response.startsWith("HTTP/1.1 408 Request Timeout\r\n")).toBe(true);
    expect(bodyOf(response)).toEqual({ error: { code: "bad_request", message: "the request did not arrive in time; send it faster" } });
    // 500 ms timeout, checked every second by Node.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("answers bytes that are not HTTP with 400 and the contract's body", async () => {
    const response = await raw("HELLO\r\n\r\n");
    expect(response.startsWith("HTTP/1.1 400 Bad Request\r\n")).toBe(true);
    expect(bodyOf(response)).toEqual({ error: { code: "bad_request", message: "the request is not valid HTTP/1.1" } });
  });
});
