import { describe, expect, it } from "vitest";
import { KvKeys, Subjects, fromKvToken, kvToken, parseRoomSubject } from "./subjects.js";
import { bodyEvent, encodeBody, encodeData, messagePushFrame, storedMessage } from "./envelope.js";

describe("subjects", () => {
  it("builds room, live, control and history subjects", () => {
    expect(Subjects.room("app1", "chat:lobby")).toBe("sb.r.app1.chat:lobby");
    expect(Subjects.live("app1", "chat:lobby")).toBe("sb.live.app1.chat:lobby");
    expect(Subjects.control("app1")).toBe("sb.ctl.app1");
    expect(Subjects.history("app1")).toBe("sb.hist.app1");
    expect(Subjects.presence("a", "r")).toBe("sb.pres.a.r");
  });

  it("parses room subjects back", () => {
    expect(parseRoomSubject("sb.live.app1.chat:x@y")).toEqual({ app: "app1", room: "chat:x@y" });
    expect(parseRoomSubject("sb.r.a.b")).toEqual({ app: "a", room: "b" });
    expect(parseRoomSubject("sb.x.a.b")).toBeUndefined();
    expect(parseRoomSubject("sb.r.a")).toBeUndefined();
  });

  it("encodes rooms and client ids into KV-safe tokens", () => {
    const room = "chat:a@b=c+d,e;f~g!h";
    const t = kvToken(room);
    expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(fromKvToken(t)).toBe(room);
    expect(KvKeys.presence("app", room, "conn1")).toBe(`app.${t}.conn1`);
    expect(KvKeys.revokedClient("app", "user 1")).toMatch(/^client\.app\.[A-Za-z0-9_-]+$/);
  });
});

describe("message envelope", () => {
  it("encodes a body that becomes the push frame by concatenation", () => {
    const body = encodeBody({ event: "a.b", dataJson: encodeData({ t: 'x"y' }), timestamp: 5, clientId: 'c"1', attributes: { k: "v" } });
    expect(bodyEvent(body)).toBe("a.b");
    expect(JSON.parse(messagePushFrame(JSON.stringify("room"), 36, body))).toEqual({
      type: "message",
      room: "room",
      id: "m_10",
      offset: 36,
      event: "a.b",
      data: { t: 'x"y' },
      timestamp: 5,
      clientId: 'c"1',
      attributes: { k: "v" },
    });
    expect(storedMessage("room", 36, body)).toEqual({
      room: "room",
      id: "m_10",
      offset: 36,
      event: "a.b",
      data: { t: 'x"y' },
      timestamp: 5,
      clientId: 'c"1',
      attributes: { k: "v" },
    });
  });

  it("refuses data over 64 KiB with too_large", () => {
    expect(encodeData(undefined)).toBe("null");
    expect(() => encodeData("x".repeat(64 * 1024))).toThrow(/larger than 65536 bytes/);
    expect(encodeData("x".repeat(64 * 1024 - 2)).length).toBe(64 * 1024);
  });
});
