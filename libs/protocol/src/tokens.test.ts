import { describe, expect, it } from "vitest";
import { buildClaims, sessionRoom, tokenPayload } from "./tokens.js";

const now = 1_700_000_000;

describe("buildClaims", () => {
  it("fills every claim of docs/HTTP-API.md with exact values", () => {
    const c = buildClaims(
      {
        clientId: 7,
        expiresIn: 60,
        role: "SUBSCRIBER",
        attributes: { a: "b" },
        data: "hi",
        sessionDurationMinutes: 2,
        permissions: { "chat:*": ["*"] },
      },
      { nowSec: now, jti: "j1" },
    );
    expect(c).toEqual({
      aud: "switchboard",
      iat: now,
      exp: now + 60,
      jti: "j1",
      clientId: "7",
      role: "subscriber",
      permissions: { "chat:*": ["subscribe", "presence", "history", "metrics"] },
      attributes: { a: "b" },
      data: "hi",
      sessionExp: now + 120,
    });
    expect(Object.keys(tokenPayload(c))).toEqual([
      "permissions",
      "clientId",
      "role",
      "attributes",
      "data",
      "sessionExp",
      "aud",
      "iat",
      "exp",
      "jti",
    ]);
  });

  it("defaults to 900 s and every room, and applies the role before the key ceiling", () => {
    expect(buildClaims({}, { nowSec: now, jti: "x" })).toEqual({
      aud: "switchboard",
      iat: now,
      exp: now + 900,
      jti: "x",
      permissions: { "*": ["*"] },
    });
    const c = buildClaims({ role: "publisher" }, { nowSec: now, jti: "x", ceiling: { "*": ["subscribe", "publish"] } });
    expect(c.permissions).toEqual({ "*": ["subscribe", "publish"] });
  });

  it("refuses bad values with a message naming the field", () => {
    expect(() => buildClaims({ expiresIn: 30 * 86400 + 1 })).toThrow(/expiresIn must be an integer/);
    expect(() => buildClaims({ role: "admin" })).toThrow(/role "admin" is not one of subscriber, publisher, moderator/);
    expect(() => buildClaims({ attributes: { k: "x".repeat(1100) } })).toThrow(/attributes must be at most 1024 bytes/);
    expect(() => buildClaims({ data: "x".repeat(1001) })).toThrow(/data must be a string of at most 1000/);
    expect(() => buildClaims({ clientId: "x".repeat(129) })).toThrow(/clientId must be a string of 1-128/);
    expect(() => buildClaims({ permissions: { "a.b": ["*"] } })).toThrow(/permissions: invalid room pattern "a.b"/);
  });

  it("names the session room", () => {
    expect(sessionRoom("abc")).toBe("session:abc");
  });
});
