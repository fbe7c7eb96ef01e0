/**
 * Vendor client tokens at the upgrade (docs/VENDORS.md). The `opentok` SDK signs client tokens locally with the
 * project secret, in two formats (an HS256 JWT with `ist: "project"`, its default, and the legacy `T1==`); with a
 * Switchboard key as the project (apiKey = `appId.keyId`, apiSecret = its secret) the gateway verifies them
 * (libs/core opentok/clienttoken.ts: signature, scope, role, connection data, expiry at most 30 days after creation,
 * a session id embedding the signing apiKey) and checks that the session exists in that app. Such a token then
 * acts as a Switchboard session token: room `session:<id>` with the OpenTok role's capabilities (publisher and
 * publisheronly → publisher), cut to the key's ceiling, `connection_data` as the connection data.
 */
import { createHash } from "node:crypto";
import {
  EffectivePermissions,
  Permissions,
  TOKEN_AUDIENCE,
  applyRole,
  cutToCeiling,
  sessionRoom,
  type TokenClaims,
} from "@switchboard/protocol";
import {
  ClientTokenError,
  base64urlJsonObject,
  KvKeys,
  T1_PREFIX,
  TokenError,
  verifyClientToken,
  type ClientTokenFailure,
  type KV,
  type KeyRegistry,
  type ResolvedKey,
  type RevocationRegistry,
  type VerifiedToken,
  type VerifyFailureReason,
} from "@switchboard/core";

const REASON: Readonly<Record<ClientTokenFailure, VerifyFailureReason>> = {
  malformed: "malformed",
  unknown_key: "unknown_kid",
  bad_signature: "signature",
  expired: "expired",
  too_long_lived: "claims",
  bad_role: "claims",
  bad_scope: "claims",
  data_too_long: "claims",
  wrong_session_owner: "claims",
};

/** Token headers seen with a `kid`: not OpenTok client tokens. */
const KID_HEADERS = new Set<string>();

/** Whether a token is an OpenTok client token (T1, or a JWT with `ist: "project"` and no `kid`), not a Switchboard one. */
export function isOpenTokToken(token: string): boolean {
  if (token.startsWith(T1_PREFIX)) return true;
  const d1 = token.indexOf(".");
  if (d1 < 0) return false;
  const d2 = token.indexOf(".", d1 + 1);
  const h = token.slice(0, d1);
  // Every connect asks: a header already seen with a kid (a Switchboard token's, one per key) decides at once.
  if (KID_HEADERS.has(h)) return false;
  const header = base64urlJsonObject(h);
  if (header === undefined) return false;
  if (header["kid"] !== undefined) {
    if (KID_HEADERS.size >= 1000) KID_HEADERS.clear();
    KID_HEADERS.add(h);
    return false;
  }
  return base64urlJsonObject(token.slice(d1 + 1, d2 < 0 ? undefined : d2))?.["ist"] === "project";
}

export interface OpenTokDeps {
  keys: KeyRegistry;
  revocations: RevocationRegistry;
  /** The sessions bucket (a session exists while its record does). */
  sessions: KV;
}

/** Verifies an OpenTok client token; throws TokenError (4001 invalid, 4002 expired, 4004 no such session). */
export async function verifyOpenTokToken(token: string, deps: OpenTokDeps): Promise<VerifiedToken> {
  let key: ResolvedKey | undefined;
  let v;
  try {
    v = await verifyClientToken(token, async (apiKey) => {
      key = deps.keys.peek(apiKey) ?? (await deps.keys.get(apiKey));
      return key?.secret;
    });
  } catch (err) {
    if (err instanceof ClientTokenError) throw new TokenError(REASON[err.reason], err.message);
    throw err;
  }
  if (key === undefined) throw new TokenError("unknown_kid", "the token's apiKey names no known key");
  const session = await deps.sessions.get(KvKeys.session(key.appId, v.sessionId));
  if (session === null || session.operation !== "PUT")
    throw new TokenError("unknown_session", `session ${v.sessionId} does not exist in this app (never created, or closed)`);
  const map = cutToCeiling(applyRole({ [sessionRoom(v.sessionId)]: ["*"] }, v.switchboardRole), key.ceilingMap);
  const claims: TokenClaims = {
    aud: TOKEN_AUDIENCE,
    // Revocations refuse tokens issued up to their time: an OpenTok create_time may run ahead of this clock (the SDK
    // rounds it; a skew is tolerated), so the token counts as issued no later than now.
    iat: Math.min(v.createTime, Math.floor(Date.now() / 1000)),
    exp: v.expireTime,
    // Revocable by jti like any token: a digest of the token itself (OpenTok tokens carry no id).
    jti: `ot_${createHash("sha256").update(token).digest("base64url").slice(0, 22)}`,
    permissions: map,
    role: v.switchboardRole,
    ...(v.connectionData !== undefined && v.connectionData !== "" ? { data: v.connectionData } : {}),
  };
  if (deps.revocations.isRevoked(key.appId, claims)) throw new TokenError("revoked", "token has been revoked");
  return { key, claims, permissions: new EffectivePermissions(new Permissions(map, "token permissions"), key.ceiling) };
}
