import { describe, expect, it } from "vitest";
import { buildClaims, signToken } from "@switchboard/protocol";
import { IssuanceLimiter } from "./ratelimit.js";
import { newJtis, signHs256, signHs256Batch } from "./sign.js";

const key = { appId: "app1", keyId: "key1", secret: "s3cret-s3cret-s3cret-s3cret-s3cret-xx" };
const hmac = { kid: "app1.key1", secret: key.secret };

describe("node:crypto signer", () => {
  it("produces tokens byte-identical to the protocol's jose signer", async () => {
    const requests = [
      {},
      { clientId: "alice", role: "moderator", attributes: { team: "blue" }, data: "d", sessionDurationMinutes: 5 },
      { clientId: 42, permissions: { "chat:*": ["subscribe", "publish"], news: [] }, expiresIn: 60 },
    ];
    for (const [i, req] of requests.entries()) {
      const claims = buildClaims(req, { nowSec: 1_700_000_000, jti: `jti-${i}` });
      expect(signHs256(claims, hmac)).toBe(await signToken(claims, key));
    }
  });

  it("signs a batch that differs only in jti, each token identical to jose's", async () => {
    const claims = buildClaims({ clientId: "b", role: "subscriber" }, { nowSec: 1_700_000_000, jti: "" });
    const tokens = signHs256Batch(claims, ["j1", "j2"], hmac);
    expect(tokens[0]).toBe(await signToken({ ...claims, jti: "j1" }, key));
    expect(tokens[1]).toBe(await signToken({ ...claims, jti: "j2" }, key));
  });

  it("makes distinct 22-character ids, across pool refills", () => {
    const ids = newJtis(3000);
    expect(new Set(ids).size).toBe(3000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe("issuance limiter", () => {
  it("allows the burst, then refuses with the seconds until enough tokens refill", () => {
    const l = new IssuanceLimiter({ rate: 10, burst: 20 });
    l.take("a.k", 20, 1000);
    expect(() => l.take("a.k", 1, 1000)).toThrow(/over 10 tokens\/s \(burst 20\); retry after 1 s/);
    try {
      l.take("a.k", 15, 1000);
    } catch (err) {
      expect((err as { status: number; retryAfter: number }).status).toBe(429);
      expect((err as { retryAfter: number }).retryAfter).toBe(2);
    }
    l.take("a.k", 5, 1500); // half a second refills 5
    l.take("other.k", 20, 1500); // keys are separate
    expect(() => l.take("a.k", 21, 10_000)).toThrow(/count 21 is more than key a.k may issue at once \(burst 20\)/);
  });
});
