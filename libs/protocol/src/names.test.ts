import { describe, expect, it } from "vitest";
import { SwitchboardError } from "./errors.js";
import { assertEvent, assertRoom, isValidEvent, isValidRoom, parseApiKey } from "./names.js";
import { messageIdFromOffset, offsetFromMessageId } from "./messages.js";

describe("room names", () => {
  it.each(["chat", "a", "chat:lobby", "session:abc-123", "A_z0-9:@=+,;~!", "x".repeat(128)])("accepts %s", (room) => {
    expect(isValidRoom(room)).toBe(true);
    expect(assertRoom(room)).toBe(room);
  });

  it.each(["", "x".repeat(129), "a.b", "a*", "a>", "has space", "tab\t", "new\nline", "é", "a/b", "a#b"])("rejects %j", (room) => {
    expect(isValidRoom(room)).toBe(false);
    try {
      assertRoom(room);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SwitchboardError);
      expect((err as SwitchboardError).code).toBe("invalid_room");
      expect((err as SwitchboardError).status).toBe(400);
    }
  });

  it("rejects non-strings", () => {
    expect(isValidRoom(42)).toBe(false);
    expect(() => assertRoom(undefined)).toThrow(/invalid room name \(undefined\)/);
  });
});

describe("event names", () => {
  it.each(["greeting", "a.b.c", "x:y-z_1", "e".repeat(64)])("accepts %s", (e) => expect(isValidEvent(e)).toBe(true));
  it.each(["", "e".repeat(65), "a b", "a*", "a@b", "a,b"])("rejects %j", (e) => {
    expect(isValidEvent(e)).toBe(false);
    expect(() => assertEvent(e)).toThrow(/invalid event name/);
  });
});

describe("API keys", () => {
  it("splits appId.keyId:secret at the first colon", () => {
    expect(parseApiKey("app.key:se:cret")).toEqual({ appId: "app", keyId: "key", secret: "se:cret" });
  });
  it.each(["app.key", "appkey:secret", "app.key:", ".key:s", "a.b.c:s", "a b.key:s"])("rejects %j", (k) => {
    expect(parseApiKey(k)).toBeUndefined();
  });
});

describe("message ids", () => {
  it("round-trips offsets", () => {
    expect(messageIdFromOffset(1)).toBe("m_1");
    expect(messageIdFromOffset(36)).toBe("m_10");
    for (const n of [1, 35, 36, 1_000_000, 2 ** 40]) expect(offsetFromMessageId(messageIdFromOffset(n))).toBe(n);
  });
  it.each(["", "m_", "x_1", "m_-1", "m_0", "m_ZZ", "m_" + "z".repeat(20)])("rejects %j", (id) => {
    expect(offsetFromMessageId(id)).toBeUndefined();
  });
});
