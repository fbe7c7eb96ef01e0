/**
 * Token claims (docs/HTTP-API.md): built from a request by the auth service and the server SDK alike, signed HS256 with the
 * key secret (the UTF-8 bytes of the secret string), header `kid` = `appId.keyId`.
 */
import { SignJWT } from "jose";
import { SwitchboardError } from "./errors.js";
import { CLIENT_ID_MAX, isValidId } from "./names.js";
import { DEFAULT_PERMISSIONS, Permissions, ROLES, applyRole, cutToCeiling, type PermissionMap, type Role } from "./permissions.js";

export const TOKEN_AUDIENCE = "switchboard";
export const TOKEN_ALG = "HS256";
export const DEFAULT_EXPIRES_IN = 900;
export const MAX_EXPIRES_IN = 30 * 24 * 3600;
export const ATTRIBUTES_MAX_BYTES = 1024;
export const DATA_MAX = 1000;
/** The room a session's tokens are for (docs/HTTP-API.md). */
export const SESSION_ROOM_PREFIX = "session:";
export function sessionRoom(sessionId: string): string {
  return `${SESSION_ROOM_PREFIX}${sessionId}`;
}

/** Tokens longer than this are refused before any parsing. */
export const TOKEN_MAX_LENGTH = 8192;

export interface TokenRequest {
  clientId?: string | number | undefined;
  expiresIn?: number | undefined;
  permissions?: PermissionMap | undefined;
  role?: string | undefined;
  attributes?: Record<string, string> | undefined;
  data?: string | undefined;
  sessionDurationMinutes?: number | undefined;
}

export interface TokenClaims {
  aud: typeof TOKEN_AUDIENCE;
  iat: number;
  exp: number;
  jti: string;
  clientId?: string;
  permissions: PermissionMap;
  role?: Role;
  attributes?: Record<string, string>;
  data?: string;
  /** Epoch seconds at which the connection closes (4003) even if the token is refreshed. */
  sessionExp?: number;
}

export interface TokenResponse {
  token: string;
  expiresIn: number;
  /** Epoch milliseconds. */
  expiresAt: number;
  sessionExpiresAt?: number;
  clientId?: string;
}

export interface SigningKey {
  appId: string;
  keyId: string;
  secret: string;
}

function bad(message: string): SwitchboardError {
  return new SwitchboardError("bad_request", message);
}

export function normalizeRole(role: string): Role {
  const lower = role.toLowerCase();
  if ((ROLES as readonly string[]).includes(lower)) return lower as Role;
  throw bad(`role ${JSON.stringify(role)} is not one of ${ROLES.join(", ")}`);
}

export function normalizeClientId(clientId: string | number): string {
  const value = typeof clientId === "number" ? clientIdFromNumber(clientId) : clientId;
  if (typeof value !== "string" || value.length === 0 || value.length > CLIENT_ID_MAX)
    throw bad(`clientId must be a string of 1-${CLIENT_ID_MAX} characters`);
  return value;
}

function clientIdFromNumber(n: number): string {
  if (!Number.isFinite(n)) throw bad("clientId must be a finite number or a string");
  return String(n);
}

export function randomId(bytes = 16): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  let s = "";
  for (const b of buf) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Validates a token request and builds its claims. `ceiling` (a key's permissions ceiling) cuts the permissions down.
 * `nowSec` is injectable for tests.
 */
export function buildClaims(
  req: TokenRequest,
  options: { nowSec?: number; ceiling?: PermissionMap | undefined; jti?: string } = {},
): TokenClaims {
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  const expiresIn = req.expiresIn ?? DEFAULT_EXPIRES_IN;
  if (!Number.isInteger(expiresIn) || expiresIn < 1 || expiresIn > MAX_EXPIRES_IN)
    throw bad(`expiresIn must be an integer number of seconds from 1 to ${MAX_EXPIRES_IN} (30 days)`);

  let permissions = req.permissions ?? DEFAULT_PERMISSIONS;
  // Requests come from JSON: checked at run time whatever the type says.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
  if (typeof permissions !== "object" || permissions === null || Array.isArray(permissions))
    throw bad('permissions must be an object like {"room:*": ["subscribe"]}');
  new Permissions(permissions, "permissions"); // validates patterns and capabilities
  // The role first, then the ceiling: the token then shows exactly what the key allows.
  let role: Role | undefined;
  if (req.role !== undefined) {
    role = normalizeRole(req.role);
    permissions = applyRole(permissions, role);
  }
  permissions = cutToCeiling(permissions, options.ceiling);

  const claims: TokenClaims = {
    aud: TOKEN_AUDIENCE,
    iat: now,
    exp: now + expiresIn,
    jti: options.jti ?? randomId(),
    permissions,
  };
  if (req.clientId !== undefined) claims.clientId = normalizeClientId(req.clientId);
  if (role !== undefined) claims.role = role;
  if (req.attributes !== undefined) claims.attributes = checkAttributes(req.attributes);
  if (req.data !== undefined) {
    if (typeof req.data !== "string" || req.data.length > DATA_MAX) throw bad(`data must be a string of at most ${DATA_MAX} characters`);
    claims.data = req.data;
  }
  if (req.sessionDurationMinutes !== undefined) {
    const m = req.sessionDurationMinutes;
    if (!Number.isInteger(m) || m < 1 || m > MAX_EXPIRES_IN / 60)
      throw bad(`sessionDurationMinutes must be an integer from 1 to ${MAX_EXPIRES_IN / 60}`);
    claims.sessionExp = now + m * 60;
  }
  return claims;
}

function checkAttributes(attributes: unknown): Record<string, string> {
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes))
    throw bad("attributes must be an object of string values");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) {
    if (typeof v !== "string") throw bad(`attributes.${k} must be a string`);
    out[k] = v;
  }
  if (new TextEncoder().encode(JSON.stringify(out)).length > ATTRIBUTES_MAX_BYTES)
    throw bad(`attributes must be at most ${ATTRIBUTES_MAX_BYTES} bytes as JSON`);
  return out;
}

/** The protected header of every token, in its canonical key order. */
export function tokenHeader(kid: string): { alg: typeof TOKEN_ALG; typ: "JWT"; kid: string } {
  return { alg: TOKEN_ALG, typ: "JWT", kid };
}

/**
 * The JWT payload in its canonical key order (the other claims, then `aud`, `iat`, `exp`, `jti`). Every signer
 * (jose here, node:crypto in the auth service) serialises this object, so their tokens are byte-identical.
 */
export function tokenPayload(claims: TokenClaims): Record<string, unknown> {
  // A plain loop: object rest/spread here measured ~7× slower (issuance hot path).
  const out: Record<string, unknown> = {};
  for (const k in claims) {
    if (k !== "aud" && k !== "iat" && k !== "exp" && k !== "jti") out[k] = claims[k as keyof TokenClaims];
  }
  out["aud"] = claims.aud;
  out["iat"] = claims.iat;
  out["exp"] = claims.exp;
  out["jti"] = claims.jti;
  return out;
}

export async function signToken(claims: TokenClaims, key: SigningKey): Promise<string> {
  if (!isValidId(key.appId) || !isValidId(key.keyId)) throw bad("signing key has an invalid appId or keyId");
  return new SignJWT(tokenPayload(claims))
    .setProtectedHeader(tokenHeader(`${key.appId}.${key.keyId}`))
    .sign(new TextEncoder().encode(key.secret));
}

export function tokenResponse(token: string, claims: TokenClaims): TokenResponse {
  const res: TokenResponse = { token, expiresIn: claims.exp - claims.iat, expiresAt: claims.exp * 1000 };
  if (claims.sessionExp !== undefined) res.sessionExpiresAt = claims.sessionExp * 1000;
  if (claims.clientId !== undefined) res.clientId = claims.clientId;
  return res;
}
