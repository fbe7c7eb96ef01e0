import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { KV } from "@nats-io/kv";
import { buildClaims, signToken, type TokenClaims } from "@switchboard/protocol";
import { KeyRegistry } from "./keys.js";
import { SecretBox } from "./secretbox.js";
import { createLogger } from "./logger.js";
import { RevocationRegistry, sessionOf, type Revocation } from "./revocations.js";
import { KvKeys } from "./subjects.js";
import { TokenError, verifyToken } from "./verify.js";

const log = createLogger("test", "silent");
const box = new SecretBox(randomBytes(32));
const secret = "a-secret-of-at-least-32-characters-long";
const key = { appId: "app1", keyId: "key1", secret };

/** A KV stub: `get` answers from `records` (undefined → null, "DEL" → a delete marker); watch/keys replay `puts`. */
function stubKv(records: Record<string, Uint8Array | "DEL">, puts: Array<[string, Revocation]> = []): KV {
  const stub = {
    get: (k: string) => {
      const v = records[k];
      if (v === undefined) return Promise.resolve(null);
      return Promise.resolve(v === "DEL" ? { operation: "DEL", value: new Uint8Array() } : { operation: "PUT", value: v });
    },
    watch: () =>
      Promise.resolve({
        stop: () => undefined,
        *[Symbol.asyncIterator]() {
          for (const [k, r] of puts) yield { key: k, operation: "PUT", json: () => r };
        },
      }),
    keys: () => Promise.resolve([][Symbol.iterator]()),
  };
  return stub as unknown as KV; // only the members used by KeyRegistry and RevocationRegistry
}

function sealed(kid: string): Uint8Array {
  return Buffer.from(JSON.stringify({ appId: "app1", keyId: "key1", createdAt: 0, secret: box.seal(secret, kid) }));
}

async function reason(token: string, opts: Parameters<typeof verifyToken>[1]): Promise<[string, number]> {
  try {
    await verifyToken(token, opts);
    return ["ok", 0];
  } catch (err) {
    return [(err as TokenError).reason, (err as TokenError).closeCode];
  }
}

describe("verifyToken", () => {
  const keys = new KeyRegistry(stubKv({ "app1.key1": sealed("app1.key1"), "app1.gone": "DEL" }), box, log);

  it("accepts a good token and compiles its permissions", async () => {
    const claims = buildClaims({ clientId: "u", permissions: { "chat:*": ["subscribe"] } }, { jti: "j" });
    const v = await verifyToken(await signToken(claims, key), { keys });
    expect(v.claims).toEqual(claims);
    expect(v.permissions.can("chat:a", "subscribe")).toBe(true);
    expect(v.permissions.can("chat:a", "publish")).toBe(false);
  });

  it("keeps refusing a bad algorithm after the good header was cached", async () => {
    const good = await signToken(buildClaims({}, { jti: "j2" }), key);
    await verifyToken(good, { keys });
    const header = Buffer.from(JSON.stringify({ alg: "HS512", typ: "JWT", kid: "app1.key1" })).toString("base64url");
    const input = `${header}.${good.split(".")[1] ?? ""}`;
    const forged = `${input}.${createHmac("sha512", secret).update(input).digest("base64url")}`;
    expect(await reason(forged, { keys })).toEqual(["algorithm", 4001]);
  });

  it("refuses a signature that decodes to the right bytes but is not their canonical base64url", async () => {
    const good = await signToken(buildClaims({}, { jti: "j3" }), key);
    await verifyToken(good, { keys });
    // 43 characters carry 256 bits and 2 spare ones: flipping the last character's lowest bit keeps the bytes.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet.indexOf(good.slice(-1));
    const variant = `${good.slice(0, -1)}${alphabet[last ^ 1] ?? ""}`;
    expect(Buffer.from(variant.split(".")[2] ?? "", "base64url")).toEqual(Buffer.from(good.split(".")[2] ?? "", "base64url"));
    expect(await reason(variant, { keys })).toEqual(["signature", 4001]);
  });

  it("tells a deleted key (4004) from an unknown one (4001)", async () => {
    const claims = buildClaims({}, { jti: "j3" });
    expect(await reason(await signToken(claims, { ...key, keyId: "gone" }), { keys })).toEqual(["key_deleted", 4004]);
    expect(await reason(await signToken(claims, { ...key, keyId: "never" }), { keys })).toEqual(["unknown_kid", 4001]);
  });
});

describe("RevocationRegistry", () => {
  const at = 1_700_000_000;
  const claims = (extra: Partial<TokenClaims>): TokenClaims => ({
    aud: "switchboard",
    iat: at,
    exp: at + 900,
    jti: "x",
    permissions: { "*": ["*"] },
    ...extra,
  });

  it("refuses by jti, by clientId and by session up to the revocation moment, and hears each new entry", async () => {
    const r = { revokedAt: at, until: at + 3600 };
    const registry = new RevocationRegistry(
      stubKv({}, [
        [KvKeys.revokedJti("app1", "bad-jti"), r],
        [KvKeys.revokedClient("app1", "eve"), r],
        [KvKeys.revokedSession("app1", "s1"), r],
      ]),
      log,
    );
    const heard: string[] = [];
    registry.onRevoke((k) => heard.push(JSON.stringify(RevocationRegistry.parseKey(k))));
    await registry.start(new AbortController().signal);
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual(["jti", "client", "session"].map((kind) => JSON.stringify({ kind, app: "app1" })));
    expect(registry.isRevoked("app1", claims({ jti: "bad-jti" }))).toBe(true);
    expect(registry.isRevoked("app2", claims({ jti: "bad-jti" }))).toBe(false);
    expect(registry.isRevoked("app1", claims({ clientId: "eve" }))).toBe(true);
    expect(registry.isRevoked("app1", claims({ clientId: "eve", iat: at + 1 }))).toBe(false);
    expect(registry.isRevoked("app1", claims({ permissions: { "session:s1": ["subscribe"] } }))).toBe(true);
    expect(registry.isRevoked("app1", claims({ permissions: { "session:s1": ["subscribe"] }, iat: at + 1 }))).toBe(false);
    expect(registry.isRevoked("app1", claims({ permissions: { "session:s2": ["subscribe"] } }))).toBe(false);
  });

  it("finds the session of a session token only", () => {
    expect(sessionOf(claims({ permissions: { "session:abc": ["subscribe"] } }))).toBe("abc");
    expect(sessionOf(claims({ permissions: { "session:abc": [], other: ["*"] } }))).toBeUndefined();
    expect(sessionOf(claims({ permissions: { "session:*": ["*"] } }))).toBeUndefined();
    expect(sessionOf(claims({}))).toBeUndefined();
  });
});
