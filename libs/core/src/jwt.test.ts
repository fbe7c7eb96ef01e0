import { describe, expect, it } from "vitest";
import { base64urlJsonObject, decodeJwt } from "./jwt.js";

const b64 = (text: string) => Buffer.from(text).toString("base64url");

describe("decodeJwt", () => {
  it("splits a JWT and reads its header and payload as objects", () => {
    const token = `${b64('{"alg":"HS256"}')}.${b64('{"iss":"k","n":1}')}.c2ln`;
    expect(decodeJwt(token)).toEqual({
      h: b64('{"alg":"HS256"}'),
      p: b64('{"iss":"k","n":1}'),
      s: "c2ln",
      header: { alg: "HS256" },
      claims: { iss: "k", n: 1 },
    });
  });

  it("names what is wrong: not three parts, or a part that is not a JSON object", () => {
    for (const t of ["", "a", "a.b", "a.b.c.d"]) expect(decodeJwt(t)).toBe("parts");
    for (const [h, p] of [
      ["not json", "{}"],
      ["{}", "not json"],
      ["null", "{}"],
      ["{}", "[1]"],
      ['"text"', "{}"],
      ["{}", "42"],
    ])
      expect(decodeJwt(`${b64(h ?? "")}.${b64(p ?? "")}.s`)).toBe("json");
  });
});

describe("base64urlJsonObject", () => {
  it("reads an object, and nothing else", () => {
    expect(base64urlJsonObject(b64('{"a":[1]}'))).toEqual({ a: [1] });
    for (const text of ["null", "[]", "1", '"a"', "{", ""]) expect(base64urlJsonObject(b64(text))).toBeUndefined();
  });
});
