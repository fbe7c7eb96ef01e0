/**
 * Reading credentials from an HTTP Authorization header, and comparing secrets in constant time. An app API key
 * comes as `Basic base64(appId.keyId:secret)`, `Bearer appId.keyId:secret`, or (Livestorm-compatible, where a
 * route allows it) the raw key; KeyRegistry.authenticate checks it against the stored key.
 */
import { timingSafeEqual } from "node:crypto";

/** The `appId.keyId:secret` an Authorization header carries, or undefined when it carries none. */
export function apiKeyOf(header: string | undefined, allowRaw: boolean): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(" ");
  const scheme = space < 0 ? "" : header.slice(0, space).toLowerCase();
  const value = space < 0 ? header : header.slice(space + 1).trim();
  if (scheme === "basic") return Buffer.from(value, "base64").toString("utf8");
  if (scheme === "bearer") return value;
  return allowRaw && space < 0 ? header.trim() : undefined;
}

/** The token of `Authorization: Bearer <token>` (scheme as written), or undefined. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  return header?.startsWith("Bearer ") ? header.slice(7).trim() : undefined;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab); // keep the timing independent of where the strings differ
    return false;
  }
  return timingSafeEqual(ab, bb);
}
