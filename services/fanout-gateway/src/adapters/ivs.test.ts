/**
 * The IVS chat frame codec (docs/VENDORS.md) with exact values: stored messages as MESSAGE or EVENT frames (every
 * shape of `data`), and client frames decoded or refused with the RequestId kept for the ERROR.
 */
import { describe, expect, it } from "vitest";
import { encodeBody } from "@switchboard/core";
import { IvsFrameError, decodeIvsFrame, ivsAdapter, ivsErrorFrame, ivsMessageFrame } from "./ivs.js";

const T = Date.UTC(2026, 11, 3, 8, 0, 0, 123);
const frame = (text: string) => new TextEncoder().encode(text).buffer;
/** A frame as an object, to read one field. */
const parsed = (f: string) => JSON.parse(f) as Record<string, unknown>;
const body = (event: string, data: unknown, extra: { clientId?: string; attributes?: Record<string, string> } = {}) =>
  encodeBody({ event, dataJson: JSON.stringify(data), timestamp: T, ...extra });

describe("stored messages as IVS frames", () => {
  it("an IVS chat message: Content, Attributes, Sender with the token's attributes, RequestId when given", () => {
    const b = body("message", { content: "hi", attributes: { k: "v" } }, { clientId: "alice", attributes: { displayName: "A" } });
    expect(JSON.parse(ivsMessageFrame(36, b, "req-1"))).toEqual({
      Type: "MESSAGE",
      Id: "m_10",
      RequestId: "req-1",
      Content: "hi",
      Attributes: { k: "v" },
      SendTime: "2026-12-03T08:00:00.123Z",
      Sender: { UserId: "alice", Attributes: { displayName: "A" } },
    });
  });

  it('event message from other surfaces: a string as it is, anything else as JSON text, no sender as ""', () => {
    expect(JSON.parse(ivsMessageFrame(1, body("message", "plain")))).toEqual({
      Type: "MESSAGE",
      Id: "m_1",
      Content: "plain",
      SendTime: "2026-12-03T08:00:00.123Z",
      Sender: { UserId: "" },
    });
    expect(parsed(ivsMessageFrame(2, body("message", { n: 1 })))["Content"]).toBe('{"n":1}');
    expect(parsed(ivsMessageFrame(3, body("message", null)))["Content"]).toBe("null");
    // Attributes only from an IVS-shaped data whose attributes are all strings.
    expect(parsed(ivsMessageFrame(4, body("message", { content: "x", attributes: { n: 1 } })))["Attributes"]).toBeUndefined();
  });

  it("any other event: an EVENT whose Attributes are the data when it maps strings to strings, else its JSON text", () => {
    expect(JSON.parse(ivsMessageFrame(5, body("app:poll", { q: "lunch?" })))).toEqual({
      Type: "EVENT",
      Id: "m_5",
      EventName: "app:poll",
      SendTime: "2026-12-03T08:00:00.123Z",
      Attributes: { q: "lunch?" },
    });
    expect(parsed(ivsMessageFrame(6, body("score", { a: 1 })))["Attributes"]).toEqual({ data: '{"a":1}' });
    expect(parsed(ivsMessageFrame(7, body("score", [1])))["Attributes"]).toEqual({ data: "[1]" });
  });

  it("an unstored signal to one connection: an EVENT mapped like a stored event's, with a UUID Id and the send time", () => {
    const before = Date.now();
    const e = parsed(ivsAdapter.signal("session:s", "chat", "hello"));
    const sent = Date.parse(e["SendTime"] as string);
    expect(sent).toBeGreaterThanOrEqual(before);
    expect(sent).toBeLessThanOrEqual(Date.now());
    expect({ ...e, SendTime: "checked" }).toEqual({
      Type: "EVENT",
      Id: e["Id"],
      EventName: "chat",
      SendTime: "checked",
      Attributes: { data: '"hello"' },
    });
    expect(e["Id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(parsed(ivsAdapter.signal("r", "poll", { q: "lunch?" }))["Attributes"]).toEqual({ q: "lunch?" });
  });

  it("an ERROR frame", () => {
    const e = JSON.parse(ivsErrorFrame("r", 429, "slow down")) as Record<string, unknown>;
    expect({ ...e, Id: typeof e["Id"] }).toEqual({
      Type: "ERROR",
      Id: "string",
      RequestId: "r",
      ErrorCode: 429,
      ErrorMessage: "slow down",
    });
  });
});

describe("client frames", () => {
  it("decodes the three actions as the client sends them", () => {
    expect(decodeIvsFrame(frame('{"Action":"SEND_MESSAGE","RequestId":"1","Content":"hi","Attributes":{"a":"b"}}'))).toEqual({
      action: "SEND_MESSAGE",
      requestId: "1",
      content: "hi",
      attributes: { a: "b" },
    });
    expect(decodeIvsFrame(frame('{"Action":"DELETE_MESSAGE","RequestId":"2","Id":"m_1"}'))).toEqual({
      action: "DELETE_MESSAGE",
      requestId: "2",
      id: "m_1",
      reason: undefined,
    });
    expect(decodeIvsFrame(frame('{"Action":"DISCONNECT_USER","RequestId":"3","UserId":"bob","Reason":"spam"}'))).toEqual({
      action: "DISCONNECT_USER",
      requestId: "3",
      userId: "bob",
      reason: "spam",
    });
  });

  it("refuses malformed frames, keeping the RequestId when it could be read", () => {
    const refusal = (text: string) => {
      try {
        decodeIvsFrame(frame(text));
      } catch (err) {
        expect(err).toBeInstanceOf(IvsFrameError);
        return [(err as IvsFrameError).ivsRequestId, (err as IvsFrameError).message];
      }
      throw new Error("expected a refusal");
    };
    expect(refusal("not json")[0]).toBeUndefined();
    expect(refusal('{"Action":"SEND_MESSAGE","RequestId":"1","RequestId":"2","Content":"x"}')[0]).toBeUndefined();
    expect(refusal('{"Action":"SEND_MESSAGE","Content":"x"}')).toEqual([undefined, "RequestId must be a string of 1 to 128 characters"]);
    expect(refusal('{"Action":"FLY","RequestId":"9"}')).toEqual(["9", "Action must be SEND_MESSAGE, DELETE_MESSAGE or DISCONNECT_USER"]);
    expect(refusal('{"Action":"SEND_MESSAGE","RequestId":"9","Content":5}')).toEqual([
      "9",
      "Content must be a string of at most 65536 characters",
    ]);
    expect(refusal('{"Action":"SEND_MESSAGE","RequestId":"9","Content":"x","Attributes":{"n":1}}')).toEqual([
      "9",
      "Attributes must map strings to strings",
    ]);
    expect(refusal(`{"Action":"DISCONNECT_USER","RequestId":"9","UserId":"u","Reason":"${"r".repeat(257)}"}`)).toEqual([
      "9",
      "Reason must be a string of at most 256 characters",
    ]);
  });
});
