import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameError, REQUEST_TYPES, parseRequest, replyError, replyOk } from "./frames.js";

function fails(text: string): FrameError {
  try {
    parseRequest(text);
  } catch (err) {
    expect(err).toBeInstanceOf(FrameError);
    return err as FrameError;
  }
  throw new Error(`expected ${text} to be refused`);
}

describe("parseRequest", () => {
  it("parses every request type", () => {
    expect(parseRequest('{"type":"ping","id":1}')).toEqual({ type: "ping", id: 1 });
    expect(parseRequest('{"type":"subscribe","id":2,"room":"r","events":["a","b.c"],"since":{"offset":7},"presence":true}')).toEqual({
      type: "subscribe",
      id: 2,
      room: "r",
      events: ["a", "b.c"],
      since: { offset: 7 },
      presence: true,
    });
    expect(parseRequest('{"type":"subscribe","id":3,"room":"r","since":{"last":5}}')).toEqual({
      type: "subscribe",
      id: 3,
      room: "r",
      since: { last: 5 },
    });
    expect(parseRequest('{"type":"publish","id":4,"room":"r","event":"e","data":null,"idempotencyKey":"k"}')).toEqual({
      type: "publish",
      id: 4,
      room: "r",
      event: "e",
      data: null,
      idempotencyKey: "k",
    });
    expect(parseRequest('{"type":"history","id":5,"room":"r","limit":100,"before":9}')).toEqual({
      type: "history",
      id: 5,
      room: "r",
      limit: 100,
      before: 9,
    });
    expect(parseRequest('{"type":"moderate.mute","id":6,"room":"r","clientId":"c"}')).toEqual({
      type: "moderate.mute",
      id: 6,
      room: "r",
      clientId: "c",
    });
    expect(parseRequest('{"type":"moderate.delete","id":7,"room":"r","messageId":"m_1"}')).toEqual({
      type: "moderate.delete",
      id: 7,
      room: "r",
      messageId: "m_1",
    });
    expect(parseRequest('{"type":"refresh","id":8,"token":"t"}')).toEqual({ type: "refresh", id: 8, token: "t" });
    expect(parseRequest('{"type":"presence.join","id":9,"room":"r","data":{"x":1}}')).toEqual({
      type: "presence.join",
      id: 9,
      room: "r",
      data: { x: 1 },
    });
    expect(parseRequest('{"type":"occupancy","id":10,"room":"r"}')).toEqual({ type: "occupancy", id: 10, room: "r" });
  });

  it("refuses frames without a usable id (reply id null)", () => {
    for (const t of [
      "{nope",
      "[]",
      "3",
      '{"type":"ping"}',
      '{"type":"ping","id":-1}',
      '{"type":"ping","id":1.5}',
      '{"type":"ping","id":"1"}',
    ]) {
      const e = fails(t);
      expect(e.requestId).toBeNull();
      expect(e.code).toBe("bad_request");
    }
  });

  it("refuses bad fields with the request id and a code", () => {
    expect(fails('{"type":"nope","id":3}')).toMatchObject({ requestId: 3, code: "bad_request" });
    expect(fails('{"type":"subscribe","id":4,"room":"a.b"}')).toMatchObject({ requestId: 4, code: "invalid_room" });
    expect(fails('{"type":"subscribe","id":5}')).toMatchObject({ requestId: 5, code: "bad_request" });
    expect(fails('{"type":"subscribe","id":6,"room":"r","events":[]}').code).toBe("bad_request");
    expect(fails('{"type":"subscribe","id":7,"room":"r","since":{"offset":1,"last":2}}').code).toBe("bad_request");
    expect(fails('{"type":"subscribe","id":8,"room":"r","since":{"last":101}}').code).toBe("bad_request");
    expect(fails('{"type":"publish","id":9,"room":"r","event":"bad event","data":1}').code).toBe("bad_request");
    expect(fails('{"type":"publish","id":10,"room":"r","event":"e"}').message).toMatch(/data is required/);
    expect(fails('{"type":"history","id":11,"room":"r","limit":101}').message).toMatch(/limit/);
    expect(fails('{"type":"moderate.disconnect","id":12,"room":"r"}').message).toMatch(/exactly one of clientId or connectionId/);
    expect(fails('{"type":"moderate.disconnect","id":13,"room":"r","clientId":"a","connectionId":"b"}').code).toBe("bad_request");
  });

  it("refuses bad history fields with parseHistoryQuery's code and message, and the request id", () => {
    expect(fails('{"type":"history","id":14,"room":"r","direction":"sideways"}')).toMatchObject({
      requestId: 14,
      code: "bad_request",
      message: 'direction must be "backwards" or "forwards"',
    });
    expect(fails('{"type":"history","id":15,"room":"r","before":0}')).toMatchObject({
      requestId: 15,
      message: "before must be an offset: an integer of at least 1",
    });
    expect(fails('{"type":"history","id":16,"room":"r","limit":0}').message).toBe("limit must be an integer from 1 to 100");
    expect(fails('{"type":"history","id":17,"room":"r","start":"1"}').message).toBe(
      "start must be a time in epoch ms: an integer of at least 0",
    );
    expect(fails('{"type":"history","id":18,"room":"a.b","limit":0}').code).toBe("invalid_room");
    expect(parseRequest('{"type":"history","id":19,"room":"r","direction":"forwards","after":0,"start":1,"end":2}')).toEqual({
      type: "history",
      id: 19,
      room: "r",
      direction: "forwards",
      after: 0,
      start: 1,
      end: 2,
    });
  });

  it("builds replies", () => {
    expect(JSON.parse(replyOk(1, { a: 1 }))).toEqual({ type: "reply", id: 1, ok: true, result: { a: 1 } });
    expect(JSON.parse(replyError(null, "bad_request", "m"))).toEqual({
      type: "reply",
      id: null,
      ok: false,
      error: { code: "bad_request", message: "m" },
    });
  });

  it("reads frames strictly: repeated keys, __proto__ and overflowing numbers are named, not guessed at", () => {
    expect(fails('{"type":"ping","id":1,"id":2}').message).toBe('frame repeats the key "id" in one object');
    expect(fails('{"type":"publish","id":1,"room":"r","event":"e","data":{"__proto__":1}}').message).toBe(
      'frame has the key "__proto__", which is not allowed',
    );
    expect(fails('{"type":"publish","id":1,"room":"r","event":"e","data":1e400}').message).toBe(
      "frame has the number 1e400, which is too large for a double",
    );
    expect(fails("{nope").message).toBe("frame is not valid JSON");
  });
});

describe("parseRequest (property)", () => {
  const field = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("r", "chat:1", "e", "", "a".repeat(200)));
  const frame = fc.record(
    {
      type: fc.oneof(fc.constantFrom(...REQUEST_TYPES), fc.string()),
      id: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
      room: field,
      event: field,
      data: field,
      since: fc.oneof(fc.record({ offset: field }, { requiredKeys: [] }), fc.record({ last: field }, { requiredKeys: [] }), field),
      events: fc.oneof(fc.array(field, { maxLength: 3 }), field),
      limit: field,
      clientId: field,
      connectionId: field,
      messageId: field,
      token: field,
    },
    { requiredKeys: [] },
  );

  it("answers any frame with a request or a FrameError, never another exception", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          frame.map((f) => JSON.stringify(f)),
        ),
        (text) => {
          try {
            const req = parseRequest(text);
            expect(REQUEST_TYPES).toContain(req.type);
          } catch (err) {
            expect(err).toBeInstanceOf(FrameError);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
