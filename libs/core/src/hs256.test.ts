import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hs256 } from "./hs256.js";

const reference = (secret: string, input: string) => createHmac("sha256", Buffer.from(secret, "utf8")).update(input).digest("base64url");

describe("hs256", () => {
  // Generated secrets (base64url, 43 characters) take the two-hash path; the others fall back to createHmac.
  const secrets = {
    "a generated secret": "q3Hk8r0yZx1Vb6Jm2Lp9Ws4Tn7Cd5Fg0Ae8Ui1Oh3Rk",
    "a one-byte secret": "k",
    "an empty secret": "",
    "a 64-byte secret": "x".repeat(64),
    "a 65-byte secret (hashed first)": "x".repeat(65),
    "a secret with non-ASCII bytes": "clé-secrète-ünïcode",
  };
  const inputs = ["", "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJzd2l0Y2hib2FyZCJ9", "a.b", "ünïcode 🙂 input", "z".repeat(1000)];
  for (const [name, secret] of Object.entries(secrets))
    it(`equals createHmac for ${name}`, () => {
      const sign = hs256(secret);
      for (const input of inputs) expect(sign(input)).toBe(reference(secret, input));
    });

  it("gives the same answer on every call (the per-key buffer is rewritten each time)", () => {
    const sign = hs256("q3Hk8r0yZx1Vb6Jm2Lp9Ws4Tn7Cd5Fg0Ae8Ui1Oh3Rk");
    const first = sign("one");
    expect(sign("two")).toBe(reference("q3Hk8r0yZx1Vb6Jm2Lp9Ws4Tn7Cd5Fg0Ae8Ui1Oh3Rk", "two"));
    expect(sign("one")).toBe(first);
  });
});
