/**
 * The OpenTok client-token codec and verifier against the test vectors recorded from the real SDK (shared
 * VENDOR-SDKS.md appendix: opentok 2.23.2 with the clock pinned to 1795600000 s), and the attacks on each format.
 */
import { describe, expect, it } from "vitest";
import { ClientTokenError, decodeClientToken, encodeJwt, encodeT1, verifyClientToken, type OpenTokTokenData } from "./clienttoken.js";
import { apiKeyOfSessionId, mintSessionId } from "./sessionid.js";

const API_KEY = "47123456";
const SECRET = "topsecretvalue0123456789abcdef0123456789";
const SESSION = "1_MX40NzEyMzQ1Nn5-VHVlIE5vdiAyNCAyMDI2fmFiYzEyM35-";
const NOW = 1795600000;
const DATA: OpenTokTokenData = {
  session_id: SESSION,
  create_time: NOW,
  nonce: 424242,
  role: "moderator",
  expire_time: 1795603600,
  connection_data: "name=Alice",
  initial_layout_class_list: "focus",
  scope: "session.connect",
};
const T1 =
  "T1==cGFydG5lcl9pZD00NzEyMzQ1NiZzaWc9OTRhMGI5ZmZhOTUwYjViZmJiNDUzZTg5M2U2NTQ4OTEyOTRhMzA5NTpzZXNzaW9uX2lkPTFfTVg0ME56RXlNelExTm41LVZIVmxJRTV2ZGlBeU5DQXlNREkyZm1GaVl6RXlNMzUtJmNyZWF0ZV90aW1lPTE3OTU2MDAwMDAmbm9uY2U9NDI0MjQyJnJvbGU9bW9kZXJhdG9yJmV4cGlyZV90aW1lPTE3OTU2MDM2MDAmY29ubmVjdGlvbl9kYXRhPW5hbWUlM0RBbGljZSZpbml0aWFsX2xheW91dF9jbGFzc19saXN0PWZvY3VzJnNjb3BlPXNlc3Npb24uY29ubmVjdA==";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiI0NzEyMzQ1NiIsImlzdCI6InByb2plY3QiLCJpYXQiOjE3OTU2MDAwMDAsImV4cCI6MTc5NTYwMzYwMCwic2Vzc2lvbl9pZCI6IjFfTVg0ME56RXlNelExTm41LVZIVmxJRTV2ZGlBeU5DQXlNREkyZm1GaVl6RXlNMzUtIiwiY3JlYXRlX3RpbWUiOjE3OTU2MDAwMDAsIm5vbmNlIjo0MjQyNDIsInJvbGUiOiJtb2RlcmF0b3IiLCJleHBpcmVfdGltZSI6MTc5NTYwMzYwMCwiY29ubmVjdGlvbl9kYXRhIjoibmFtZT1BbGljZSIsImluaXRpYWxfbGF5b3V0X2NsYXNzX2xpc3QiOiJmb2N1cyIsInNjb3BlIjoic2Vzc2lvbi5jb25uZWN0In0.RUfvzg1iCxTbUf_Th7GoxCg4IrUU4SPoM2JDJvSl2N0";

const secretOf = (k: string) => (k === API_KEY ? SECRET : undefined);

async function failure(token: string, now = NOW + 10, lookup = secretOf): Promise<string> {
  try {
    await verifyClientToken(token, lookup, now);
  } catch (err) {
    if (err instanceof ClientTokenError) return err.reason;
    throw err;
  }
  throw new Error("expected the token to be refused");
}

describe("OpenTok session ids", () => {
  it("decodes the SDK's example id to its apiKey, and mints ids the same decoding accepts", () => {
    expect(apiKeyOfSessionId(SESSION)).toBe(API_KEY);
    const id = mintSessionId("app1.key1");
    expect(id).toMatch(/^1_[A-Za-z0-9_-]{1,62}$/);
    expect(apiKeyOfSessionId(id ?? "")).toBe("app1.key1");
    expect(mintSessionId("a".repeat(32))).toBeUndefined();
  });
});

describe("OpenTok client token codec", () => {
  it("encodes the SDK's T1 and JWT vectors byte for byte", () => {
    expect(encodeT1(API_KEY, SECRET, DATA)).toBe(T1);
    expect(encodeJwt(API_KEY, SECRET, DATA, NOW)).toBe(JWT);
  });

  it("verifies both vectors to the same connection", async () => {
    for (const [token, format] of [
      [T1, "t1"],
      [JWT, "jwt"],
    ] as const) {
      expect(await verifyClientToken(token, secretOf, NOW + 10)).toEqual({
        format,
        apiKey: API_KEY,
        sessionId: SESSION,
        role: "moderator",
        switchboardRole: "moderator",
        connectionData: "name=Alice",
        createTime: NOW,
        expireTime: 1795603600,
        initialLayoutClassList: "focus",
      });
    }
  });

  it("refuses a T1 with a wrong signature and a JWT signed with another key's secret", async () => {
    const text = Buffer.from(T1.slice(4), "base64").toString();
    const forged = "T1==" + Buffer.from(text.replace(/sig=[0-9a-f]{40}/, `sig=${"0".repeat(40)}`)).toString("base64");
    expect(await failure(forged)).toBe("bad_signature");
    const tampered = "T1==" + Buffer.from(text.replace("role=moderator", "role=publisher")).toString("base64");
    expect(await failure(tampered)).toBe("bad_signature");
    expect(await failure(encodeJwt(API_KEY, "another-secret-of-another-key-0123456789", DATA, NOW))).toBe("bad_signature");
    expect(await failure(encodeT1("99999999", SECRET, DATA))).toBe("unknown_key");
  });

  it("refuses an expired token, one living over 30 days, a session of another apiKey, a bad role or scope", async () => {
    expect(await failure(T1, 1795603600)).toBe("expired");
    expect(await failure(JWT, 1795603601)).toBe("expired");
    const long = { ...DATA, expire_time: NOW + 30 * 86400 + 1 };
    expect(await failure(encodeT1(API_KEY, SECRET, long))).toBe("too_long_lived");
    expect(await failure(encodeJwt(API_KEY, SECRET, long, NOW))).toBe("too_long_lived");
    const foreign = { ...DATA, session_id: mintSessionId("otherapp.key9") ?? "" };
    expect(await failure(encodeT1(API_KEY, SECRET, foreign))).toBe("wrong_session_owner");
    expect(await failure(encodeJwt(API_KEY, SECRET, foreign, NOW))).toBe("wrong_session_owner");
    expect(await failure(encodeT1(API_KEY, SECRET, { ...DATA, role: "admin" }))).toBe("bad_role");
    expect(await failure(encodeT1(API_KEY, SECRET, { ...DATA, scope: "everything" }))).toBe("bad_scope");
    expect(await failure(encodeT1(API_KEY, SECRET, { ...DATA, connection_data: "x".repeat(1001) }))).toBe("data_too_long");
  });

  it("refuses what is not a token, and a JWT with another algorithm", () => {
    // JSON that is not an object (null, an array) is refused like text that is not JSON, not read as a header.
    for (const t of ["", "T1==", "a.b", "x.y.z", "bnVsbA.bnVsbA.x", "WzFd.WzFd.x"])
      expect(() => decodeClientToken(t)).toThrow(ClientTokenError);
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${JWT.split(".")[1] ?? ""}.`;
    expect(() => decodeClientToken(none)).toThrow("HS256");
  });
});
