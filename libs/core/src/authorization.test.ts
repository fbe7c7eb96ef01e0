import { describe, expect, it } from "vitest";
import { apiKeyOf, constantTimeEqual } from "./authorization.js";

describe("constantTimeEqual", () => {
  it("is true only for the same text", () => {
    expect(constantTimeEqual("", "")).toBe(true);
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("é🙂", "é🙂")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "Abc")).toBe(false);
    // Lengths differ: shorter, longer, empty, and a prefix either way.
    expect(constantTimeEqual("abc", "ab")).toBe(false);
    expect(constantTimeEqual("ab", "abc")).toBe(false);
    expect(constantTimeEqual("", "a")).toBe(false);
    expect(constantTimeEqual("a", "")).toBe(false);
    // Same bytes in another form are different text (a non-canonical base64url signature is refused).
    expect(constantTimeEqual("é", "e\u0301")).toBe(false);
    expect(constantTimeEqual("\u0000", "")).toBe(false);
  });
});

describe("apiKeyOf", () => {
  it("reads Basic, Bearer and (where allowed) a raw key", () => {
    expect(apiKeyOf(`Basic ${Buffer.from("app.k1:s3cret").toString("base64")}`, false)).toBe("app.k1:s3cret");
    expect(apiKeyOf("Bearer app.k1:s3cret", false)).toBe("app.k1:s3cret");
    expect(apiKeyOf("app.k1:s3cret", true)).toBe("app.k1:s3cret");
    expect(apiKeyOf("app.k1:s3cret", false)).toBeUndefined();
    expect(apiKeyOf(undefined, true)).toBeUndefined();
  });
});
