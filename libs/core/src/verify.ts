/**
 * Token verification (docs/HTTP-API.md) for the gateway and the history service. It is a hot path (every connect), so it
 * is written against node:crypto directly (hs256.ts): HS256 only (no `none`, no algorithm taken from the token beyond the
 * allow-list), a known `kid`, signature compared in constant time, `aud` and `exp` required, small clock tolerance.
 * Each refusal carries a reason (a metrics label) and the close code the gateway uses.
 */
import {
  CloseCode,
  EffectivePermissions,
  Permissions,
  ROLES,
  SwitchboardError,
  TOKEN_ALG,
  TOKEN_AUDIENCE,
  TOKEN_MAX_LENGTH,
  isValidClientId,
  type PermissionMap,
  type Role,
  type TokenClaims,
} from "@switchboard/protocol";
import { constantTimeEqual } from "./authorization.js";
import { hs256Of } from "./hs256.js";
import { base64urlJson } from "./jwt.js";
import type { KeyRegistry, ResolvedKey } from "./keys.js";
import type { RevocationRegistry } from "./revocations.js";

export const CLOCK_TOLERANCE_S = 5;

export type VerifyFailureReason =
  | "malformed"
  | "too_large"
  | "algorithm"
  | "unknown_kid"
  | "signature"
  | "audience"
  | "missing_exp"
  | "expired"
  | "not_yet_valid"
  | "claims"
  | "revoked"
  | "key_deleted"
  /** A vendor token (OpenTok) for a session that does not exist in the key's app, or no longer does. */
  | "unknown_session";

export class TokenError extends SwitchboardError {
  constructor(
    readonly reason: VerifyFailureReason,
    message: string,
  ) {
    super("unauthorized", message);
  }

  get closeCode(): number {
    if (this.reason === "expired") return CloseCode.TOKEN_EXPIRED;
    return this.reason === "revoked" || this.reason === "key_deleted" || this.reason === "unknown_session"
      ? CloseCode.KICKED
      : CloseCode.TOKEN_INVALID;
  }
}

export interface VerifiedToken {
  key: ResolvedKey;
  claims: TokenClaims;
  permissions: EffectivePermissions;
}

export interface VerifyOptions {
  keys: KeyRegistry;
  revocations?: RevocationRegistry | undefined;
  nowMs?: number;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Accepted headers (one per key in practice) → their kid, so a connect decodes no header it has seen before. */
const headerCache = new Map<string, string>();
const HEADER_CACHE_MAX = 1000;

/** Checks the protected header (HS256 only, no crit, a kid) and returns its kid. */
function kidOf(h: string): string {
  const cached = headerCache.get(h);
  if (cached !== undefined) return cached;
  let header: Record<string, unknown> | null;
  try {
    header = base64urlJson(h) as Record<string, unknown> | null;
  } catch {
    throw new TokenError("malformed", "token header is not JSON");
  }
  if (typeof header !== "object" || header === null) throw new TokenError("malformed", "token header is not an object");
  if (header["alg"] !== TOKEN_ALG) throw new TokenError("algorithm", `token algorithm must be ${TOKEN_ALG}`);
  if (header["crit"] !== undefined) throw new TokenError("malformed", "token header crit is not supported");
  const kid = header["kid"];
  if (typeof kid !== "string" || kid.length > 200) throw new TokenError("unknown_kid", "token header kid is missing");
  if (headerCache.size >= HEADER_CACHE_MAX) headerCache.clear();
  headerCache.set(h, kid);
  return kid;
}

/** A token split into its parts, the header checked (kidOf): what is known before the key is needed. */
interface TokenParts {
  token: string;
  /** Index of the second dot: token.slice(0, d2) is the signed input. */
  d2: number;
  p: string;
  s: string;
  kid: string;
}

function splitToken(token: string): TokenParts {
  if (token.length > TOKEN_MAX_LENGTH) throw new TokenError("too_large", `token is longer than ${TOKEN_MAX_LENGTH} characters`);
  const d1 = token.indexOf(".");
  const d2 = d1 < 0 ? -1 : token.indexOf(".", d1 + 1);
  if (d1 <= 0 || d2 < 0 || token.indexOf(".", d2 + 1) >= 0) throw new TokenError("malformed", "token is not a JWS compact string");
  const s = token.slice(d2 + 1);
  // The header and payload text is covered verbatim by the HMAC, so only the signature needs a strict alphabet check
  // (a lenient base64url decode would otherwise accept altered signatures).
  if (!B64URL.test(s)) throw new TokenError("malformed", "token signature is not base64url");
  return { token, d2, p: token.slice(d1 + 1, d2), s, kid: kidOf(token.slice(0, d1)) };
}

export async function verifyToken(token: string, opts: VerifyOptions): Promise<VerifiedToken> {
  const parts = splitToken(token);
  const key = opts.keys.peek(parts.kid) ?? (await opts.keys.get(parts.kid));
  return verifyWithKey(parts, key, opts);
}

/**
 * verifyToken without I/O, for the gateway's upgrade (the connect hot path: answered in the same call, no promise):
 * the same checks and errors when the signing key is in memory; undefined when it is not (then use verifyToken).
 */
export function verifyTokenCached(token: string, opts: VerifyOptions): VerifiedToken | undefined {
  const parts = splitToken(token);
  const key = opts.keys.peek(parts.kid);
  return key === undefined ? undefined : verifyWithKey(parts, key, opts);
}

function verifyWithKey({ token, d2, p, s, kid }: TokenParts, key: ResolvedKey | undefined, opts: VerifyOptions): VerifiedToken {
  if (key === undefined)
    throw opts.keys.wasDeleted(kid)
      ? new TokenError("key_deleted", "the API key that signed this token has been deleted")
      : new TokenError("unknown_kid", "token kid names no known key");

  // `s` passed the base64url alphabet check: only the canonical encoding of the right digest matches.
  if (!constantTimeEqual(hs256Of(key)(token.slice(0, d2)), s)) throw new TokenError("signature", "token signature does not verify");

  let payload: Record<string, unknown> | null;
  try {
    payload = base64urlJson(p) as Record<string, unknown> | null;
  } catch {
    throw new TokenError("malformed", "token payload is not JSON");
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload))
    throw new TokenError("malformed", "token payload is not an object");

  const aud = payload["aud"];
  if (aud !== TOKEN_AUDIENCE && !(Array.isArray(aud) && aud.includes(TOKEN_AUDIENCE)))
    throw new TokenError("audience", `token aud must be "${TOKEN_AUDIENCE}"`);
  const exp = payload["exp"];
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw new TokenError("missing_exp", "token exp is required");
  const now = (opts.nowMs ?? Date.now()) / 1000;
  if (exp + CLOCK_TOLERANCE_S <= now) throw new TokenError("expired", "token has expired");
  const nbf = payload["nbf"];
  if (nbf !== undefined && (typeof nbf !== "number" || nbf - CLOCK_TOLERANCE_S > now))
    throw new TokenError("not_yet_valid", "token is not valid yet (nbf)");

  const claims = readClaims(payload, exp);
  if (opts.revocations?.isRevoked(key.appId, claims)) throw new TokenError("revoked", "token has been revoked");
  return { key, claims, permissions: compiled(key, claims.permissions) };
}

/**
 * Compiled permissions by key and permission map text. Tokens of one app mostly carry a handful of distinct maps, so
 * a connect compiles none and every socket with the same map shares one (immutable) object instead of its own
 * compiled copy (about 350 bytes each). An entry is used only while its key's ceiling is the same object.
 */
const compiledCache = new Map<string, { ceiling: Permissions | undefined; permissions: EffectivePermissions }>();
const COMPILED_CACHE_MAX = 4096;

function compiled(key: ResolvedKey, map: PermissionMap): EffectivePermissions {
  const text = `${key.kid}\n${JSON.stringify(map)}`;
  const hit = compiledCache.get(text);
  if (hit !== undefined && hit.ceiling === key.ceiling) return hit.permissions;
  let permissions: Permissions;
  try {
    permissions = new Permissions(map, "token permissions");
  } catch (err) {
    throw new TokenError("claims", (err as Error).message);
  }
  const effective = new EffectivePermissions(permissions, key.ceiling);
  if (compiledCache.size >= COMPILED_CACHE_MAX) compiledCache.clear();
  compiledCache.set(text, { ceiling: key.ceiling, permissions: effective });
  return effective;
}

function readClaims(p: Record<string, unknown>, exp: number): TokenClaims {
  const iat = typeof p["iat"] === "number" ? p["iat"] : 0;
  const claims: TokenClaims = {
    aud: TOKEN_AUDIENCE,
    iat,
    exp,
    jti: typeof p["jti"] === "string" ? p["jti"] : "",
    permissions: { "*": ["*"] },
  };
  const perms = p["permissions"];
  if (perms !== undefined) {
    if (typeof perms !== "object" || perms === null || Array.isArray(perms))
      throw new TokenError("claims", "token permissions must be an object");
    claims.permissions = perms as PermissionMap;
  }
  const clientId = p["clientId"];
  if (clientId !== undefined) {
    if (!isValidClientId(clientId)) throw new TokenError("claims", "token clientId must be a string of 1-128 characters");
    claims.clientId = clientId;
  }
  const role = p["role"];
  if (role !== undefined) {
    if (!(ROLES as readonly unknown[]).includes(role)) throw new TokenError("claims", "token role is unknown");
    claims.role = role as Role;
  }
  const attributes = p["attributes"];
  if (attributes !== undefined) {
    if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes))
      throw new TokenError("claims", "token attributes must be an object");
    claims.attributes = attributes as Record<string, string>;
  }
  const data = p["data"];
  if (data !== undefined) {
    if (typeof data !== "string") throw new TokenError("claims", "token data must be a string");
    claims.data = data;
  }
  const sessionExp = p["sessionExp"];
  if (sessionExp !== undefined) {
    if (typeof sessionExp !== "number") throw new TokenError("claims", "token sessionExp must be a number");
    claims.sessionExp = sessionExp;
  }
  return claims;
}
