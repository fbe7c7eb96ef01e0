/**
 * OpenTok client tokens, as the `opentok` SDK (2.23) signs them locally with the project secret (shared
 * VENDOR-SDKS.md §2.5): the HS256 JWT (its default) and the legacy `T1==` token (HMAC-SHA1). A codec (encode for
 * tests and tools, decode) and a verifier the gateway can use at the upgrade: signature with the apiKey's secret,
 * `scope`, role, connection data size, expiry (at most 30 days after creation), and that the session id embeds the
 * signing apiKey. Whether the session exists in that app is the caller's check (it needs the sessions bucket).
 * No I/O here; the secret comes from a lookup the caller provides. Used by auth (tests and tools) and by the
 * gateway, which accepts these tokens at its upgrade (docs/VENDORS.md).
 */
import { createHmac } from "node:crypto";
import { DATA_MAX, MAX_EXPIRES_IN } from "@switchboard/protocol";
import { constantTimeEqual } from "../authorization.js";
import { decodeJwt } from "../jwt.js";
import { apiKeyOfSessionId } from "./sessionid.js";

export const OPENTOK_ROLES = ["publisher", "publisheronly", "subscriber", "moderator"] as const;
export type OpenTokRole = (typeof OPENTOK_ROLES)[number];
/** Switchboard's role for each OpenTok role (publisheronly publishes, so it is a publisher). */
export const OPENTOK_ROLE_OF: Readonly<Record<OpenTokRole, "publisher" | "subscriber" | "moderator">> = {
  publisher: "publisher",
  publisheronly: "publisher",
  subscriber: "subscriber",
  moderator: "moderator",
};
export const T1_PREFIX = "T1==";
export const CLIENT_TOKEN_SCOPE = "session.connect";
/** Clock skew allowed on `create_time` / `iat` in the future, seconds. */
export const CLOCK_SKEW_S = 300;
const TOKEN_MAX = 8192;

/** The token data the SDK signs, in its order (values as the SDK puts them). */
export interface OpenTokTokenData {
  session_id: string;
  create_time: number;
  nonce: number | string;
  role: string;
  expire_time: number;
  connection_data?: string;
  initial_layout_class_list?: string;
  scope?: string;
}

export interface VerifiedClientToken {
  format: "jwt" | "t1";
  apiKey: string;
  sessionId: string;
  role: OpenTokRole;
  /** Switchboard's role for it. */
  switchboardRole: "publisher" | "subscriber" | "moderator";
  connectionData: string | undefined;
  createTime: number;
  expireTime: number;
  initialLayoutClassList: string;
}

export type ClientTokenFailure =
  | "malformed"
  | "unknown_key"
  | "bad_signature"
  | "expired"
  | "too_long_lived"
  | "bad_role"
  | "bad_scope"
  | "data_too_long"
  | "wrong_session_owner";

export class ClientTokenError extends Error {
  override readonly name = "ClientTokenError";
  constructor(
    readonly reason: ClientTokenFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Percent-encoding as Node's querystring.stringify does it (what opentok-token uses). */
function qsEscape(v: string): string {
  return encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function dataString(data: OpenTokTokenData): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(data)) if (v !== undefined) parts.push(`${qsEscape(k)}=${qsEscape(String(v))}`);
  return parts.join("&");
}

/** A `T1==` token for `data`, byte for byte as opentok-token 1.1.1 makes it. */
export function encodeT1(apiKey: string, secret: string, data: OpenTokTokenData): string {
  const rest = dataString(data);
  const sig = createHmac("sha1", secret).update(rest).digest("hex");
  return T1_PREFIX + Buffer.from(`partner_id=${apiKey}&sig=${sig}:${rest}`).toString("base64");
}

/** An HS256 JWT for `data`, as the SDK signs it by default. */
export function encodeJwt(apiKey: string, secret: string, data: OpenTokTokenData, iat: number): string {
  const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
  const payload = Buffer.from(JSON.stringify({ iss: apiKey, ist: "project", iat, exp: data.expire_time, ...data })).toString("base64url");
  const sig = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

const malformed = (why: string) => new ClientTokenError("malformed", `not an OpenTok client token: ${why}`);

function intOf(v: unknown, name: string): number {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw malformed(`${name} is not a number`);
  return Math.floor(n);
}

interface Decoded {
  format: "jwt" | "t1";
  apiKey: string;
  /** Checks the signature with the apiKey's secret. */
  signedWith(secret: string): boolean;
  claims: Record<string, unknown>;
}

/** Splits a token into its apiKey, claims and a signature check, without trusting anything yet. */
export function decodeClientToken(token: string): Decoded {
  if (token.length === 0 || token.length > TOKEN_MAX) throw malformed("empty or too long");
  if (token.startsWith(T1_PREFIX)) {
    const text = Buffer.from(token.slice(T1_PREFIX.length), "base64").toString("utf8");
    const colon = text.indexOf(":");
    if (colon < 0) throw malformed("no ':' after the signature");
    const head = new URLSearchParams(text.slice(0, colon));
    const rest = text.slice(colon + 1);
    const apiKey = head.get("partner_id");
    const sig = head.get("sig");
    if (apiKey === null || apiKey === "" || sig === null || !/^[0-9a-f]{40}$/.test(sig)) throw malformed("no partner_id or sig");
    return {
      format: "t1",
      apiKey,
      signedWith: (secret) => constantTimeEqual(createHmac("sha1", secret).update(rest).digest("hex"), sig),
      claims: Object.fromEntries(new URLSearchParams(rest)),
    };
  }
  const jwt = decodeJwt(token);
  if (jwt === "parts") throw malformed("neither a T1== token nor a JWT");
  if (jwt === "json") throw malformed("the JWT header or payload is not a JSON object");
  const { h, p, s, header, claims } = jwt;
  if (header["alg"] !== "HS256") throw malformed("the JWT must be signed HS256");
  const apiKey = claims["iss"];
  if (typeof apiKey !== "string" || apiKey === "") throw malformed("the JWT has no iss (apiKey)");
  return {
    format: "jwt",
    apiKey,
    signedWith: (secret) => constantTimeEqual(createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url"), s),
    claims,
  };
}

/**
 * Verifies an OpenTok client token. `secretOf` gives the secret of an apiKey (undefined: unknown key). Throws
 * ClientTokenError naming what is wrong.
 */
export async function verifyClientToken(
  token: string,
  secretOf: (apiKey: string) => Promise<string | undefined> | string | undefined,
  nowSec: number = Math.floor(Date.now() / 1000),
): Promise<VerifiedClientToken> {
  const d = decodeClientToken(token);
  const secret = await secretOf(d.apiKey);
  if (secret === undefined) throw new ClientTokenError("unknown_key", `unknown apiKey ${JSON.stringify(d.apiKey)}`);
  if (!d.signedWith(secret)) throw new ClientTokenError("bad_signature", "the token's signature does not match its apiKey's secret");
  const c = d.claims;
  if (d.format === "jwt" && c["ist"] !== "project") throw new ClientTokenError("bad_scope", 'the JWT must have ist "project"');
  if (c["scope"] !== CLIENT_TOKEN_SCOPE) throw new ClientTokenError("bad_scope", `the token's scope must be ${CLIENT_TOKEN_SCOPE}`);
  const sessionId = c["session_id"];
  if (typeof sessionId !== "string" || sessionId === "") throw malformed("no session_id");
  if (apiKeyOfSessionId(sessionId) !== d.apiKey)
    throw new ClientTokenError("wrong_session_owner", "the session id does not belong to the apiKey that signed the token");
  const role = c["role"] ?? "publisher";
  if (typeof role !== "string" || !(OPENTOK_ROLES as readonly string[]).includes(role))
    throw new ClientTokenError("bad_role", `role must be one of ${OPENTOK_ROLES.join(", ")}`);
  const createTime = intOf(c["create_time"], "create_time");
  const expireTime = intOf(c["expire_time"], "expire_time");
  if (d.format === "jwt" && intOf(c["exp"], "exp") !== expireTime) throw malformed("exp and expire_time differ");
  if (createTime > nowSec + CLOCK_SKEW_S) throw new ClientTokenError("expired", "the token's create_time is in the future");
  if (expireTime <= nowSec) throw new ClientTokenError("expired", "the token has expired (expire_time is past)");
  if (expireTime - createTime > MAX_EXPIRES_IN)
    throw new ClientTokenError("too_long_lived", "expire_time must be at most 30 days after create_time");
  const data = c["connection_data"];
  if (data !== undefined && (typeof data !== "string" || data.length > DATA_MAX))
    throw new ClientTokenError("data_too_long", `connection data must be a string of at most ${DATA_MAX} characters`);
  const layout = c["initial_layout_class_list"];
  return {
    format: d.format,
    apiKey: d.apiKey,
    sessionId,
    role: role as OpenTokRole,
    switchboardRole: OPENTOK_ROLE_OF[role as OpenTokRole],
    connectionData: data,
    createTime,
    expireTime,
    initialLayoutClassList: typeof layout === "string" ? layout : "",
  };
}
