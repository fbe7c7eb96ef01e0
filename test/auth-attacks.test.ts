/**
 * Attack suite (docs/HTTP-API.md gateway verification): forged, broken and revoked tokens against a real gateway socket.
 * Each must be refused with the contract's close code AND counted under its reason in
 * `switchboard_auth_verify_failures_total` on the gateway's /metrics.
 */
import { generateKeyPairSync, createSign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, startCluster, type Cluster } from "./helpers/cluster.js";
import { openSocket } from "./helpers/ws.js";
import { api, b64url, craftToken, decodePayload, splitKey, verifyFailures } from "./helpers/auth.js";

let cluster: Cluster;
let key: ReturnType<typeof splitKey>;

beforeAll(async () => {
  cluster = await startCluster({ services: ["auth", "publish-ingest", "fanout-gateway"] });
  key = splitKey(cluster.devKey);
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const header = () => ({ alg: "HS256", typ: "JWT", kid: key.kid });
const claims = (extra: Record<string, unknown> = {}) => ({
  aud: "switchboard",
  iat: now(),
  exp: now() + 600,
  jti: `j${Math.random()}`,
  ...extra,
});

/** Connects with `token`; expects the socket refused with `code` and one more failure counted under `reason`. */
async function expectRefused(token: string, code: number, reason: string): Promise<void> {
  const before = await verifyFailures(cluster, reason);
  const sock = openSocket(cluster.wsUrl(token));
  const closed = await sock.closed;
  expect(closed.code).toBe(code);
  expect(sock.frames.filter((f) => f.type === "connected")).toEqual([]);
  expect(await verifyFailures(cluster, reason)).toBe(before + 1);
}

describe("forged tokens", () => {
  it("alg none, unsigned", async () => {
    const token = `${b64url({ alg: "none", typ: "JWT", kid: key.kid })}.${b64url(claims())}.`;
    await expectRefused(token, 4001, "algorithm");
  });

  it("alg none with the correct HMAC appended (alg taken from the header is never trusted)", async () => {
    await expectRefused(craftToken({ alg: "none", kid: key.kid }, claims(), key.secret), 4001, "algorithm");
  });

  it("alg confusion: RS256 header over an HMAC made with the key secret", async () => {
    await expectRefused(craftToken({ alg: "RS256", typ: "JWT", kid: key.kid }, claims(), key.secret), 4001, "algorithm");
  });

  it("alg spelled in lower case", async () => {
    await expectRefused(craftToken({ alg: "hs256", typ: "JWT", kid: key.kid }, claims(), key.secret), 4001, "algorithm");
  });

  it("HS512 with the right secret", async () => {
    await expectRefused(craftToken({ alg: "HS512", typ: "JWT", kid: key.kid }, claims(), key.secret, "sha512"), 4001, "algorithm");
  });

  it("RS256 with a real RSA signature", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const input = `${b64url({ alg: "RS256", typ: "JWT", kid: key.kid })}.${b64url(claims())}`;
    const sig = createSign("RSA-SHA256").update(input).sign(privateKey).toString("base64url");
    await expectRefused(`${input}.${sig}`, 4001, "algorithm");
  });

  it("wrong secret", async () => {
    await expectRefused(craftToken(header(), claims(), `${key.secret}x`), 4001, "signature");
  });

  it("unknown kid, and no kid at all", async () => {
    await expectRefused(craftToken({ ...header(), kid: `${key.appId}.nokey` }, claims(), key.secret), 4001, "unknown_kid");
    await expectRefused(craftToken({ alg: "HS256", typ: "JWT" }, claims(), key.secret), 4001, "unknown_kid");
  });

  it("tampered payload under a genuine signature", async () => {
    const genuine = await issueToken(cluster, { clientId: "mallory", permissions: { "public:*": ["subscribe"] } });
    const [h, , s] = genuine.split(".") as [string, string, string];
    const payload = { ...decodePayload(genuine), clientId: "admin", permissions: { "*": ["*"] } };
    await expectRefused(`${h}.${b64url(payload)}.${s}`, 4001, "signature");
  });

  it("garbage instead of a token", async () => {
    await expectRefused("not.a.token", 4001, "malformed");
    await expectRefused("", 4001, "malformed");
  });
});

describe("claims", () => {
  it("missing exp", async () => {
    const { exp: _exp, ...noExp } = claims();
    await expectRefused(craftToken(header(), noExp, key.secret), 4001, "missing_exp");
  });

  it("expired (beyond the clock tolerance)", async () => {
    await expectRefused(craftToken(header(), claims({ iat: now() - 120, exp: now() - 60 }), key.secret), 4002, "expired");
  });

  it("nbf in the future", async () => {
    await expectRefused(craftToken(header(), claims({ nbf: now() + 120 }), key.secret), 4001, "not_yet_valid");
  });

  it("wrong aud, and no aud", async () => {
    await expectRefused(craftToken(header(), claims({ aud: "someone-else" }), key.secret), 4001, "audience");
    const { aud: _aud, ...noAud } = claims();
    await expectRefused(craftToken(header(), noAud, key.secret), 4001, "audience");
  });

  it("a claim of the wrong type (role)", async () => {
    await expectRefused(craftToken(header(), claims({ role: "root" }), key.secret), 4001, "claims");
  });
});

describe("size", () => {
  it("a 9 KB token (over the 8 KiB limit) is refused before any parsing", async () => {
    const token = craftToken(header(), claims({ data: "x".repeat(9000) }), key.secret);
    expect(token.length).toBeGreaterThan(8192);
    await expectRefused(token, 4001, "too_large");
  });

  it("a 100 KB token never gets a connection: closed 4001 (too_large) or, when uWS receives it in pieces, reset", async () => {
    // uWS parses a request that arrives in one read in place, but buffers a split one only up to a few KiB and then
    // drops the connection without an HTTP answer. So which refusal happens depends on TCP segmentation; both
    // are refusals and neither opens a session. Seen on this machine: about half of each at 60-100 KB.
    const token = craftToken(header(), claims({ data: "x".repeat(75_000) }), key.secret);
    expect(token.length).toBeGreaterThan(100_000);
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = await verifyFailures(cluster, "too_large");
      const sock = openSocket(cluster.wsUrl(token));
      const closed = await sock.closed;
      expect(sock.frames).toEqual([]);
      const counted = (await verifyFailures(cluster, "too_large")) - before;
      if (closed.code === 4001) expect(counted).toBe(1);
      else expect({ code: closed.code, counted }).toEqual({ code: 1006, counted: 0 });
    }
    // The gateway is unharmed.
    const sock = openSocket(cluster.wsUrl(await issueToken(cluster, { clientId: "after-big" })));
    expect((await sock.waitFor((f) => f.type === "connected"))["clientId"]).toBe("after-big");
    sock.close();
  });
});

describe("revocation", () => {
  it("a revoked jti: the open socket is closed with 4004 and the token refused (revoked) on reconnect", async () => {
    const token = await issueToken(cluster, { clientId: "rev-jti" });
    const sock = openSocket(cluster.wsUrl(token));
    await sock.waitFor((f) => f.type === "connected");
    const jti = decodePayload(token)["jti"] as string;
    const res = await api(cluster.url("auth"), "POST", "/v1/tokens/revoke", { auth: `Bearer ${cluster.devKey}`, body: { jti } });
    expect(res.status).toBe(200);
    expect(res.body["jti"]).toBe(jti);
    const closed = await Promise.race([sock.closed, new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 5000))]);
    expect(closed.code).toBe(4004);
    await expectRefused(token, 4004, "revoked");
  });

  it("a deleted key: its sockets close with 4004 and its tokens are refused (key_deleted)", async () => {
    const admin = `Bearer ${cluster.adminToken}`;
    const created = await api(cluster.url("auth"), "POST", `/v1/apps/${key.appId}/keys`, { auth: admin, body: {} });
    expect(created.status).toBe(201);
    const other = created.body["key"] as string;
    const res = await fetch(`${cluster.url("auth")}/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${other}`, "content-type": "application/json" },
      body: JSON.stringify({ clientId: "doomed" }),
    });
    const token = ((await res.json()) as { token: string }).token;
    const sock = openSocket(cluster.wsUrl(token));
    await sock.waitFor((f) => f.type === "connected");
    const del = await api(cluster.url("auth"), "DELETE", `/v1/apps/${key.appId}/keys/${created.body["keyId"] as string}`, { auth: admin });
    expect(del.status).toBe(204);
    const closed = await Promise.race([sock.closed, new Promise<{ code: number }>((r) => setTimeout(() => r({ code: -1 }), 5000))]);
    expect(closed.code).toBe(4004);
    await expectRefused(token, 4004, "key_deleted");
  });
});
