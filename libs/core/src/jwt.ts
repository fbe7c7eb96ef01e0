/**
 * Compact JWS (JWT) reading for the vendor tokens (OpenTok client tokens and project JWTs, and telling an OpenTok
 * token from ours): the three parts, and the header and payload as JSON objects, nothing verified. Switchboard's own
 * tokens have a hot-path reader of their own (verify.ts), which reads its parts with base64urlJson.
 */

export interface DecodedJwt {
  /** The header, payload and signature parts as written (base64url). */
  h: string;
  p: string;
  s: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** Why a string is not a JWT: not three dot-separated parts, or a header or payload that is not a JSON object. */
export type NotAJwt = "parts" | "json";

export function decodeJwt(token: string): DecodedJwt | NotAJwt {
  const parts = token.split(".");
  if (parts.length !== 3) return "parts";
  const [h, p, s] = parts as [string, string, string];
  const header = base64urlJsonObject(h);
  const claims = base64urlJsonObject(p);
  return header === undefined || claims === undefined ? "json" : { h, p, s, header, claims };
}

/** One base64url part read as JSON; throws (SyntaxError) when it is not JSON. */
export function base64urlJson(part: string): unknown {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

/** One base64url part read as a JSON object; undefined when it is not JSON, or JSON but not an object. */
export function base64urlJsonObject(part: string): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = base64urlJson(part);
  } catch {
    return undefined;
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
