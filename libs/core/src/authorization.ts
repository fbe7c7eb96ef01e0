/**
 * Reading credentials from an HTTP Authorization header, and comparing secrets in constant time. An app API key
 * comes as `Basic base64(appId.keyId:secret)`, `Bearer appId.keyId:secret`, or (Livestorm-compatible, where a
 * route allows it) the raw key; KeyRegistry.authenticate checks it against the stored key.
 */
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

/**
 * Whether two strings are equal, in time that depends on their length only (the length of a signature or secret is
 * not secret). Every UTF-16 unit is compared and the differences OR-ed, with no early exit. It used to encode both
 * strings to Buffers for crypto.timingSafeEqual: two Buffer allocations were about 1 µs of a connect's token check
 * (every socket compares a signature), the loop is 0.05 µs.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  // A length mismatch compares a with itself: as long as a match takes.
  const other = a.length === b.length ? b : a;
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ other.charCodeAt(i);
  return diff === 0;
}
