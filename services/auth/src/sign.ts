/**
 * HS256 signing with node:crypto for the auth service's hot path. The token is byte-identical to `signToken` in
 * @switchboard/protocol (same canonical header and payload, checked by a test), so offline and online tokens are
 * one format; jose stays in the browser-safe protocol lib for the SDKs. Tokens of one call differ only in `jti`
 * (the last payload member), so the payload JSON before it is serialised once per call.
 */
import { randomFillSync } from "node:crypto";
import { hs256Of } from "@switchboard/core";
import { tokenHeader, tokenPayload, type TokenClaims } from "@switchboard/protocol";

/** A key as the registry resolves it (ResolvedKey has these); its signer is cached per object (hs256Of). */
export interface HmacKey {
  readonly kid: string;
  readonly secret: string;
}

const headers = new Map<string, string>();

function encodedHeader(kid: string): string {
  let h = headers.get(kid);
  if (h === undefined) {
    h = Buffer.from(JSON.stringify(tokenHeader(kid))).toString("base64url");
    if (headers.size > 10_000) headers.clear();
    headers.set(kid, h);
  }
  return h;
}

/** Signs `claims` once per jti in `jtis` (the template's own jti is ignored). */
export function signHs256Batch(template: TokenClaims, jtis: readonly string[], key: HmacKey): string[] {
  const payload = tokenPayload(template);
  payload["jti"] = "";
  const before = JSON.stringify(payload).slice(0, -3); // ends with `"jti":`, before `""}`
  const header = encodedHeader(key.kid);
  const sign = hs256Of(key);
  const out = new Array<string>(jtis.length);
  for (let i = 0; i < jtis.length; i++) {
    const input = `${header}.${Buffer.from(`${before}${JSON.stringify(jtis[i])}}`).toString("base64url")}`;
    out[i] = `${input}.${sign(input)}`;
  }
  return out;
}

export function signHs256(claims: TokenClaims, key: HmacKey): string {
  const [token] = signHs256Batch(claims, [claims.jti], key);
  if (token === undefined) throw new Error("signHs256Batch returned no token");
  return token;
}

const JTI_BYTES = 16;
const POOL_BYTES = JTI_BYTES * 1024;
const pool = Buffer.alloc(POOL_BYTES);
let poolAt = POOL_BYTES;

/** `n` token ids of 16 random bytes each, base64url (the same shape as protocol's randomId), from a refilled pool. */
export function newJtis(n: number): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    if (poolAt === POOL_BYTES) {
      randomFillSync(pool);
      poolAt = 0;
    }
    out[i] = pool.toString("base64url", poolAt, poolAt + JTI_BYTES);
    poolAt += JTI_BYTES;
  }
  return out;
}
