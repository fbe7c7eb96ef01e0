/**
 * HS256 signing with node:crypto for the auth service's hot path. The token is byte-identical to `signToken` in
 * @switchboard/protocol (same canonical header and payload, checked by a test), so offline and online tokens are
 * one format; jose stays in the browser-safe protocol lib for the SDKs.
 */
import { createHmac, randomBytes, type KeyObject } from "node:crypto";
import { tokenHeader, tokenPayload, type TokenClaims } from "@switchboard/protocol";

export interface HmacKey {
  kid: string;
  hmacKey: KeyObject;
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

export function signHs256(claims: TokenClaims, key: HmacKey): string {
  const input = `${encodedHeader(key.kid)}.${Buffer.from(JSON.stringify(tokenPayload(claims))).toString("base64url")}`;
  return `${input}.${createHmac("sha256", key.hmacKey).update(input).digest("base64url")}`;
}

/** `n` token ids of 16 random bytes each, base64url (the same shape as protocol's randomId). */
export function newJtis(n: number): string[] {
  const buf = randomBytes(16 * n);
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = buf.subarray(i * 16, i * 16 + 16).toString("base64url");
  return out;
}
